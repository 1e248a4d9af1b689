"""One dynamic partition per CMS sample (``sample_01`` .. ``sample_20``), added as the sensor discovers them."""

import dagster as dg

cms_sample = dg.DynamicPartitionsDefinition(name="cms_sample")
