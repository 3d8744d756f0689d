"""The composition root: settings, the FastAPI app, the conversation engine, storage, the CLI."""
