"""Datasets: the EmoFace-layout reader (real or synthetic data) and the synthetic generator."""
