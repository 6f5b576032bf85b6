"""URLs: helpdesk's own, which its acknowledgment templates link to."""
from django.urls import include, path

urlpatterns = [path("helpdesk/", include("helpdesk.urls", namespace="helpdesk"))]
