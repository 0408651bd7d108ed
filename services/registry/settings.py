"""Settings of the registry service (environment prefix `PB_REGISTRY_`)."""

from pydantic import Field, SecretStr

from libs.common.settings import (
    DEVELOPMENT_IDENTITY_KEY,
    OfficeCalendar,
    ServiceSettings,
    identity_key_field,
)
from services.registry.domain.organizations import Rules
from services.registry.sheets import SheetLimits

_SHEET = SheetLimits()  # the bounds of reading a spreadsheet: their defaults live there


class RegistrySettings(OfficeCalendar, ServiceSettings):
    service_name: str = "registry"
    port: int = 8001
    #: Every organisation's file changes reach this stream: the largest by far (see
    #: deploy/README.md, "Stream sizes").
    stream_max_bytes: int = Field(default=4 << 30, ge=1 << 20)
    rectification_check_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="How often rectification deadlines are looked at (each passed deadline is "
        "announced once, the day after it)",
    )

    standalone_min_full_members: int = Field(
        default=3, ge=1, description="Full members an organisation needs for its own branch"
    )
    joint_max_organizations: int = Field(
        default=5, ge=2, description="Most organisations one joint branch generally covers"
    )
    rectification_months: int = Field(
        default=3,
        ge=1,
        description="Calendar months a joint branch fallen below the rules has to be put right",
    )
    general_branch_min_members: int = Field(
        default=50, ge=2, description="Members from which a general branch (党总支) is advised"
    )
    committee_min_members: int = Field(
        default=100, ge=3, description="Members from which a committee (基层党委) is advised"
    )
    identity_key: SecretStr = identity_key_field(
        "registry",
        "HMAC key for the keyed hashes of ID numbers and phones used for matching",
    )
    provincial_report_max_items: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Entries a reconciliation report lists per kind (the totals count them all)",
    )
    import_max_bytes: int = Field(
        default=_SHEET.max_bytes, ge=1024, description="Largest file an import accepts"
    )
    sheet_max_rows: int = Field(
        default=_SHEET.max_rows,
        ge=10,
        description="Last row a spreadsheet may reach (CSV records), header and titles included",
    )
    sheet_max_columns: int = Field(
        default=_SHEET.max_columns, ge=10, description="Rightmost column a spreadsheet may reach"
    )
    sheet_max_cells: int = Field(
        default=_SHEET.max_cells,
        ge=100,
        description="Rows x columns of an XLSX sheet (the reader holds ~32 bytes per cell)",
    )
    sheet_max_unpacked_bytes: int = Field(
        default=_SHEET.max_unpacked_bytes,
        ge=1024,
        description="What an XLSX's parts may unpack to, declared and as read",
    )
    sheet_max_parts: int = Field(
        default=_SHEET.max_parts, ge=10, description="Entries an XLSX's zip archive may hold"
    )
    sheet_max_compression_ratio: int = Field(
        default=_SHEET.max_ratio,
        ge=10,
        description="Unpacked to packed size of one XLSX part (of those over 1 MB unpacked)",
    )
    sheet_max_line_bytes: int = Field(
        default=_SHEET.max_line_bytes, ge=1024, description="Longest line of a CSV file"
    )
    sheet_max_seconds: float = Field(
        default=_SHEET.max_seconds, gt=0, description="Time reading one spreadsheet may take"
    )
    import_lease_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How long an import job stays a worker's without a heartbeat: a job whose "
        "worker died is taken over this long after its last heartbeat",
    )
    import_heartbeat_seconds: float = Field(
        default=5.0, gt=0, description="How often a worker renews the lease of its import job"
    )
    import_file_retention_hours: float = Field(
        default=24.0,
        ge=0,
        description="How long the stored rows of a failed or rejected import are kept (for a "
        "re-run) before they are purged; a done import's go when it finishes",
    )
    import_file_purge_seconds: float = Field(
        default=3600.0, gt=0, description="How often stored rows past their retention are purged"
    )

    def development_keys(self) -> list[str]:
        keys = super().development_keys()
        if self.identity_key.get_secret_value() == DEVELOPMENT_IDENTITY_KEY:
            keys.append("PB_IDENTITY_KEY")
        return keys

    def sheet_limits(self) -> SheetLimits:
        return SheetLimits(
            max_bytes=self.import_max_bytes,
            max_rows=self.sheet_max_rows,
            max_columns=self.sheet_max_columns,
            max_cells=self.sheet_max_cells,
            max_unpacked_bytes=self.sheet_max_unpacked_bytes,
            max_parts=self.sheet_max_parts,
            max_ratio=self.sheet_max_compression_ratio,
            max_line_bytes=self.sheet_max_line_bytes,
            max_seconds=self.sheet_max_seconds,
        )

    def rules(self) -> Rules:
        return Rules(
            standalone_min_full_members=self.standalone_min_full_members,
            joint_max_organizations=self.joint_max_organizations,
            rectification_months=self.rectification_months,
            general_branch_min_members=self.general_branch_min_members,
            committee_min_members=self.committee_min_members,
        )
