"""``python -m emoclip_clinic`` runs the command-line interface."""

from emoclip_clinic.cli import main

main()
