"""Faces in recordings: boxes, face tracks from files, detectors, and patient tracking."""
