"""Nova scheduler adapters: thin translations to the pure GPU core."""
