"""Generated code for the claimstore.v1 API. Made by `make proto`; never edit by hand."""
