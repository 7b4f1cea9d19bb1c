"""Registration of every command; each lives in its own module and calls one library function."""

from __future__ import annotations

from emoclip_clinic.cli import (  # noqa: F401
    demo_cmd,
    models_cmd,
    pretrain_cmd,
    report_cmd,
    scoring_cmd,
    synth_cmd,
    zeroshot_cmd,
)
