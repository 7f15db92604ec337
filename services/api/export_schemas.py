"""Response models of the export records (services/api/routes/exports.py)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ExportedFileOut(BaseModel):
    name: str = Field(description="The file's name as handed over.")
    sha256: str = Field(description="SHA-256 of the file's bytes, hex.")
    size: int = Field(description="Size in bytes.")


class ReportSignatureOut(BaseModel):
    """The electronic signature a study report carries (21 CFR 11.50), as recorded."""

    full_name: str = Field(description="The signer's printed name.")
    username: str
    signed_at: str = Field(description="Date and time of signing, UTC (RFC 3339).")
    meaning: str = Field(description="What the signature means, e.g. \"Approved as the "
                                     "primary analysis\".")


class ExportScopeOut(BaseModel):
    sites: list[str] | None = Field(description="The sites covered; null: every site.")
    participant_id: str | None = Field(description="The one participant covered, if any.")
    as_of: str | None = Field(description="The recorded moment replayed; null: everything "
                                          "recorded before the export.")
    cutoff: str | None = Field(description="The clinical cutoff (SDTM, ADaM, study report).")
    signature: ReportSignatureOut | None = Field(
        default=None, description="A signed study report's signature; absent for the data "
                                  "files (ODM, SDTM, ADaM).")


class ExportOut(BaseModel):
    export_id: str
    format: str = Field(description="odm, sdtm, adam or study-report.")
    scope: ExportScopeOut
    files: list[ExportedFileOut]
    exported_by: str
    role: str
    reason: str | None
    position: int = Field(description="The ledger position of the export's record.")
    recorded_at: str


class ExportListOut(BaseModel):
    exports: list[ExportOut]
    as_of: str | None
