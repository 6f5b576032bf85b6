"""A minimal Django site around django-helpdesk, used only by benchmarks/peer.py for comparison."""
