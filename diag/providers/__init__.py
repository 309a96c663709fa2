"""The provider database: settings of the mail providers people use, offline."""
