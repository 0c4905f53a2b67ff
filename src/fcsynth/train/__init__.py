"""The `train` stage's library: SFT of the model under test on the exported train split."""
