"""Pydantic models: the API's bodies, the store's records and Evolution's wire shapes."""
