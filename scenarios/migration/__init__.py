"""An account-to-account migration, rehearsed on two localstripes: the old account's
customers and cards copied to a new account, the mapping file, and the recording of what
the integration does after the copy."""
