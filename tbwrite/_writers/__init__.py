"""The user-facing writers over the run core: the torch-style SummaryWriter and friends."""
