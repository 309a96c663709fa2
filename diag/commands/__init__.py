"""What each CLI command does between parsing and rendering (imported lazily)."""
