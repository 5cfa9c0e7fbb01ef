"""Train from a yaml config: `python train.py configs/base/vqvae.yaml [key=value ...]` (same as `vqmap_train`)."""
from vqmap_nb.cli import train_main

if __name__ == "__main__":
    train_main()
