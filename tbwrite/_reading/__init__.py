"""Reading event files back: records, fast parsing, series, hparams tables."""
