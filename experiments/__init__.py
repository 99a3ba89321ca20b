"""The course's experiments: scripts and harnesses that import ``genedu`` to train the shipped checkpoints and
compute the chapters' tables. Nothing in ``genedu`` imports them.

- ``experiments.mode_collapse``        chapter 6's runs: the methods, the 2D players, one benchmark run
- ``experiments/mode_collapse_table.py``  chapter 6's table (book/data/mode_collapse_table.csv)
- ``experiments/train_dcgan.py``       the shipped DCGAN, conditional GAN and digit classifier (chapter 5)
- ``experiments/train_diffusion.py``   the shipped digits U-Net (chapter 7)
"""
