"""`python -m harness.stripe.catalogue build|show` (harness.stripe.catalogue.build)."""

import sys

from harness.stripe.catalogue.build import main

sys.exit(main())
