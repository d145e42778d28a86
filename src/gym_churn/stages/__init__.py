"""One module per dvc.yaml stage; each exposes `main(argv=None) -> int`."""
