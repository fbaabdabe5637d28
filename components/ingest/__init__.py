"""Ingestion: any supported source into TFX Examples plus a DatasetSpec."""
