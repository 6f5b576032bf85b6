"""Creates the one helpdesk queue that pulls the benchmark's IMAP mailbox and acknowledges new tickets."""
from django.contrib.sites.models import Site
from django.core.management.base import BaseCommand
from helpdesk.models import Queue


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--user", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--address", default="support@team.example")

    def handle(self, *args, **options):
        Site.objects.update_or_create(id=1, defaults={"domain": "helpdesk.team.example", "name": "helpdesk"})
        Queue.objects.update_or_create(slug="support", defaults={
            "title": "Support",
            "email_address": options["address"],
            "allow_email_submission": True,
            "email_box_type": "imap",
            "email_box_host": options["host"],
            "email_box_port": options["port"],
            "email_box_ssl": False,
            "email_box_user": options["user"],
            "email_box_pass": options["password"],
            "email_box_imap_folder": "INBOX",
            "email_box_interval": 0,
            "logging_type": "none",
            "enable_notifications_on_email_events": False,
        })
