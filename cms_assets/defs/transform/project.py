"""The dbt project as dagster-dbt sees it, with a manifest that is never stale.

``dbt parse`` runs whenever the manifest is missing or older than a model, macro, test or yml file, in every process
that loads the definitions (``dg dev`` and its reloads, the daemon's code server, run workers, tests, a fresh clone),
so a ``.sql`` file added under ``models/`` is an asset after the next reload. ``make install`` prepares it too.
"""

from dagster_dbt import DbtProject

from cms_assets.lib.transform import PROJECT_DIR, ensure_manifest

dbt_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)


def prepare(project: DbtProject = dbt_project) -> DbtProject:
    """Parse the project if its manifest is stale; return it."""
    ensure_manifest(project.project_dir, str(project.target_path))
    return project
