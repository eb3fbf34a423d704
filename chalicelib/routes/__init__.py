"""Chalice blueprints: the HTTP edge. The only package under chalicelib that imports chalice."""
