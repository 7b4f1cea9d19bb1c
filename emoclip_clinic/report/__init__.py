"""Clinician HTML reports: one self-contained file per ``score`` (patient) or ``loocv`` (cohort).

Each report is a single HTML file with inline CSS and inline SVG plots, no JavaScript and no
network resources (a Content-Security-Policy forbids both), laid out to print cleanly to PDF.
"""

from __future__ import annotations

from emoclip_clinic.report.cohort import render_cohort_report
from emoclip_clinic.report.patient import render_patient_report

__all__ = ["render_cohort_report", "render_patient_report"]
