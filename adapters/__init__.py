"""Platform adapters: protocol code only, one module per platform. Imports nothing of kefu's."""
