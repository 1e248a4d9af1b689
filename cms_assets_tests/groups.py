"""xdist groups: tests that must share one worker (and so one session fixture)."""

#: The tests on the demo's instance (test_demo, test_demo_waves): one worker runs them, in order, beside the rest.
DAEMON_GROUP = "demo_daemon"
