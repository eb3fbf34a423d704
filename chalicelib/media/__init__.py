"""Inbound media kept by the service: content types from the bytes, safe names, signed links, and
where the bytes live (S3 deployed, a folder locally)."""
