"""Sample from a trained GPT prior and decode with its VQ-VAE.

    python inference_gpt.py CKPT --mode all|sample|animate|probs|stats [--out DIR] [--overwrite]
        [--n-samples N] [--seconds S] [--temperature T] [--top-k K] [--top-p P] [--seed S]
"""
from vqmap_nb.cli import generate_main

if __name__ == "__main__":
    generate_main()
