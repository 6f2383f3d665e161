"""Initial store: tenants, retention, networks, sites, cells, slices, KPI samples, rollups.

Revision ID: 0001
Revises:
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

COUNTER_COLUMNS = (
    "prb_used_dl",
    "prb_avail_dl",
    "prb_tot_dl_pct",
    "ue_thp_dl_mbps",
    "rrc_conn_mean",
    "pee_avg_power_w",
    "pee_energy_kwh",
    "dl_volume_mbit",
    "offered_dl_volume_mbit",
)


def _counter_columns() -> list[sa.Column[float]]:
    return [sa.Column(name, sa.Float(), nullable=True) for name in COUNTER_COLUMNS]


def _owned(network_fk: bool = True) -> list[sa.Column[int]]:
    cols: list[sa.Column[int]] = [
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
    ]
    if network_fk:
        cols.append(
            sa.Column(
                "network_id",
                sa.Integer(),
                sa.ForeignKey("networks.id", ondelete="CASCADE"),
                nullable=False,
            )
        )
    return cols


def upgrade() -> None:
    """Create the tables."""
    op.create_table(
        "tenants",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("created_s", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "retention_policies",
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("raw_days", sa.Integer(), nullable=False),
        sa.Column("rollup_days", sa.Integer(), nullable=False),
        sa.Column("last_prune_s", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "networks",
        *_owned(network_fk=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("dn_prefix", sa.String(400), nullable=False),
        sa.Column("created_s", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("tenant_id", "name"),
    )
    op.create_index("ix_networks_tenant_id", "networks", ["tenant_id"])
    op.create_table(
        "sites",
        *_owned(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("x_m", sa.Float(), nullable=False),
        sa.Column("y_m", sa.Float(), nullable=False),
        sa.Column("height_m", sa.Float(), nullable=False),
        sa.Column("latitude_deg", sa.Float(), nullable=True),
        sa.Column("longitude_deg", sa.Float(), nullable=True),
        sa.UniqueConstraint("network_id", "name"),
    )
    op.create_index("ix_sites_tenant_id", "sites", ["tenant_id"])
    op.create_table(
        "cells",
        *_owned(),
        sa.Column(
            "site_id", sa.Integer(), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("dn", sa.String(400), nullable=False),
        sa.Column("cu_dn", sa.String(400), nullable=True),
        sa.Column("nci", sa.BigInteger(), nullable=True),
        sa.Column("layer", sa.String(20), nullable=False),
        sa.Column("sector", sa.Integer(), nullable=False),
        sa.Column("azimuth_deg", sa.Float(), nullable=False),
        sa.Column("carrier_ghz", sa.Float(), nullable=False),
        sa.Column("bandwidth_mhz", sa.Float(), nullable=False),
        sa.Column("scs_khz", sa.Integer(), nullable=False),
        sa.Column("num_prb", sa.Integer(), nullable=False),
        sa.Column("max_tx_power_w", sa.Float(), nullable=False),
        sa.Column("x_m", sa.Float(), nullable=False),
        sa.Column("y_m", sa.Float(), nullable=False),
        sa.Column("height_m", sa.Float(), nullable=False),
        sa.UniqueConstraint("network_id", "name"),
        sa.UniqueConstraint("network_id", "dn"),
        sa.UniqueConstraint("network_id", "nci"),
    )
    op.create_index("ix_cells_tenant_id", "cells", ["tenant_id"])
    op.create_table(
        "slices",
        *_owned(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("sst", sa.Integer(), nullable=False),
        sa.Column("sd", sa.String(6), nullable=True),
        sa.UniqueConstraint("network_id", "name"),
    )
    op.create_index("ix_slices_tenant_id", "slices", ["tenant_id"])
    for table, time_column in (("kpi_samples", "interval_start_s"), ("kpi_hourly", "hour_start_s")):
        extra: list[sa.Column[Any]] = []
        if table == "kpi_samples":
            extra.append(
                sa.Column("extra", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=True)
            )
        else:
            extra.append(sa.Column("num_samples", sa.Integer(), nullable=False))
        op.create_table(
            table,
            sa.Column(
                "network_id",
                sa.Integer(),
                sa.ForeignKey("networks.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column(time_column, sa.BigInteger(), nullable=False),
            sa.Column(
                "cell_id",
                sa.Integer(),
                sa.ForeignKey("cells.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
            sa.Column("suspect", sa.Boolean(), nullable=False),
            *_counter_columns(),
            *extra,
            sa.PrimaryKeyConstraint("network_id", time_column, "cell_id"),
            sqlite_with_rowid=False,
        )
        op.create_index(f"ix_{table}_cell_time", table, ["cell_id", time_column])


def downgrade() -> None:
    """Drop the tables."""
    for table in ("kpi_hourly", "kpi_samples"):
        op.drop_index(f"ix_{table}_cell_time", table_name=table)
        op.drop_table(table)
    for table in ("slices", "cells", "sites", "networks"):
        op.drop_index(f"ix_{table}_tenant_id", table_name=table)
        op.drop_table(table)
    op.drop_table("retention_policies")
    op.drop_table("tenants")
