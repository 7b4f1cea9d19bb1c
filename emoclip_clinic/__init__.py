"""emoclip-clinic."""
