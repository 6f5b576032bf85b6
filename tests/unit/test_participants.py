"""Who may write into an item's thread (intake.participants), without a database."""
from __future__ import annotations

import pytest

from intake.participants import Parties, first_joinable, may_join, speaks_for_client
from intake.threads import references_in_subject, without_references

ACME, GLOBEX = 1, 2
# Globex's item: its contact Bo, and Ann of another company whom we copied on a reply.
GLOBEX_ITEM = Parties.of("Bo@globex.example", GLOBEX, ["bo@globex.example", "ann@partner.example"])
# A free-mail contact: no organization.
FREE_ITEM = Parties.of("kim@gmail.com", None, ["kim@gmail.com"])


@pytest.mark.parametrize(("sender", "organization", "parties", "joins"), [
    ("bo@globex.example", GLOBEX, GLOBEX_ITEM, True),                # the contact
    ("BO@Globex.Example", GLOBEX, GLOBEX_ITEM, True),                # the contact, however it is spelled
    ("lee@globex.example", GLOBEX, GLOBEX_ITEM, True),               # a colleague: the same organization
    ("ann@partner.example", None, GLOBEX_ITEM, True),                # an address we wrote to on the thread
    ("m@acme.example", ACME, GLOBEX_ITEM, False),                    # a client of another organization
    ("eve@stranger.example", None, GLOBEX_ITEM, False),              # nobody we know
    ("", None, GLOBEX_ITEM, False),                                  # no usable address
    ("kim@gmail.com", None, FREE_ITEM, True),                        # a free-mail contact: their own address
    ("sam@gmail.com", None, FREE_ITEM, False),  # the same free-mail domain is no organization
    ("sam@gmail.com", None, Parties.of("", None), False),            # an item without a contact
])
def test_who_may_join_a_thread(sender, organization, parties, joins):
    assert may_join(sender, organization, parties) is joins


def test_a_stranger_naming_a_guessed_reference_joins_nothing():
    # m@acme.example writes "Re: GLOBEX [CI-000003]": the subject names Globex's item, which is all it does.
    refs = references_in_subject("Re: GLOBEX [CI-000003]", "CI")
    assert refs == ["CI-000003"]
    claimed = [(ref, GLOBEX_ITEM) for ref in refs]
    assert first_joinable("m@acme.example", ACME, claimed) is None
    # Bo writing the same subject joins.
    assert first_joinable("bo@globex.example", GLOBEX, claimed) == "CI-000003"


def test_a_stranger_with_a_copied_in_reply_to_joins_nothing():
    # The In-Reply-To is a real Globex Message-ID, so it finds Globex's item; the sender still is not a
    # participant.
    claimed = [("CI-000003", GLOBEX_ITEM)]
    assert first_joinable("m@acme.example", ACME, claimed) is None
    # not even without an organization of their own
    assert first_joinable("m@acme.example", None, claimed) is None


def test_a_participant_joins_the_first_thread_that_is_theirs():
    # An Acme client quotes Globex's reference but answers their own item: their own item it is.
    acme_item = Parties.of("anna@acme.example", ACME)
    claimed = [("CI-000003", GLOBEX_ITEM), ("CI-000004", acme_item)]
    assert first_joinable("anna@acme.example", ACME, claimed) == "CI-000004"
    assert first_joinable("m@acme.example", ACME, claimed) == "CI-000004"  # a colleague of Anna's
    assert first_joinable("m@acme.example", ACME, []) is None


@pytest.mark.parametrize(("sender", "organization", "parties", "decides"), [
    ("bo@globex.example", GLOBEX, GLOBEX_ITEM, True),                # the contact
    ("lee@globex.example", GLOBEX, GLOBEX_ITEM, True),               # the contact's organization
    ("ann@partner.example", None, GLOBEX_ITEM, False),               # copied in: not the client
    ("m@acme.example", ACME, GLOBEX_ITEM, False),
    ("kim@gmail.com", None, FREE_ITEM, True),
    ("sam@gmail.com", None, FREE_ITEM, False),                       # same domain string, but free mail
    ("sam@gmail.com", None, Parties.of("kim@gmail.com", None), False),
])
def test_who_speaks_for_the_client(sender, organization, parties, decides):
    assert speaks_for_client(sender, organization, parties) is decides


def test_the_claimed_reference_is_taken_out_of_a_subject():
    assert without_references("Re: GLOBEX [CI-000003]", "CI") == "Re: GLOBEX"
    assert without_references("Re: Export [CI-000003] [CI-000004]", "CI") == "Re: Export"
    assert without_references("回复：导出失败【CI-000003】", "CI") == "回复：导出失败"
    assert without_references("Order (CI - 000003) status", "CI") == "Order status"
    assert without_references("Nothing to take out [ABC-1]", "CI") == "Nothing to take out [ABC-1]"
