"""Settings for the comparison site: SQLite in WAL mode like client-intake's, email to the benchmark's SMTP
sink.

Everything that changes per run comes from the environment (HELPDESK_BENCH_DIR, HELPDESK_SMTP_HOST/PORT).
"""
import os
from pathlib import Path

WORK = Path(os.environ.get("HELPDESK_BENCH_DIR", Path(__file__).resolve().parents[1] / ".run"))

SECRET_KEY = "benchmark-only-not-secret-" + "x" * 40
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SITE_ID = 1
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "helpdesk",
    "benchsite",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "benchsite.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

# The same SQLite settings as client-intake's db/engine.py: WAL, synchronous=NORMAL, a 30 s busy timeout,
# writers take the lock up front (BEGIN IMMEDIATE); Django enables foreign keys itself.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": WORK / "helpdesk.db",
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

STATIC_URL = "/static/"
MEDIA_ROOT = WORK / "media"
MEDIA_URL = "/media/"

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("HELPDESK_SMTP_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("HELPDESK_SMTP_PORT", "25"))
EMAIL_USE_TLS = False
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = "Acme Support <support@team.example>"

HELPDESK_TEAMS_MODE_ENABLED = False  # pinax-teams is an optional extra, not needed to take in email
HELPDESK_DEFAULT_SETTINGS = {"use_email_as_submitter": True, "email_on_ticket_assign": False,
                             "email_on_ticket_change": False}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
