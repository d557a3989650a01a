"""One model per file: read each top to bottom (config, blocks, model, loaders)."""
