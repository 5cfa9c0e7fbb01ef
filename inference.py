"""Motif analysis of a trained VQ-VAE: `python inference.py CKPT --mode all [--data PATH ...]` (same as `vqmap_infer`)."""
from vqmap_nb.cli import infer_main

if __name__ == "__main__":
    infer_main()
