"""A Charges API integration, recorded for the Charges → PaymentIntents blueprint."""
