"""The flow template language: types kept, phone filters, strictness, and no escape hatches."""

import pytest
from jinja2 import TemplateError

from engine.flows import templating

CTX = {"trigger": {"origin": "61400000001", "tags": ["vip", "new"], "message": "Hi"},
       "steps": {"find": {"data": {"contact": None}, "status": "succeeded"}}}


def test_one_expression_keeps_its_type_and_text_is_rendered():
    assert templating.render({"tags": "{{ trigger.tags }}", "n": ["{{ trigger.origin }}"],
                              "body": "From {{ trigger.origin }}: {{ trigger.message | lower }}"},
                             CTX) == {"tags": ["vip", "new"], "n": ["61400000001"],
                                      "body": "From 61400000001: hi"}


# what the filters made of these before they went through libphonenumber is in the comments
@pytest.mark.parametrize("raw,region,e164", [
    ("+44 (0)20 7946 0018", None, "+442079460018"),  # was +4402079460018: trunk 0 kept
    ("0412 345 678", "AU", "+61412345678"),          # was +0412345678
    ("07700 900123", "GB", "+447700900123"),         # was +07700900123
    ("(415) 555-0123", "US", "+14155550123"),        # was +4155550123
    ("61400000001", None, "+61400000001"),            # SMSGlobal's form
    ("+61 400 000 001", None, "+61400000001"),        # GHL's form, spaced
    ("61400000001", "GB", "+61400000001"),            # its country code wins over a region
])
def test_phone_filters_read_numbers_by_libphonenumber(raw, region, e164):
    ctx = {**CTX, "trigger": {"number": raw}}
    arg = f"('{region}')" if region else ""
    assert templating.render("{{ trigger.number | e164" + arg + " }}", ctx) == e164
    assert templating.render("{{ trigger.number | msisdn" + arg + " }}", ctx) == e164[1:]
    # the run's default region (the flow's, or its GHL location's country) reads them the same
    assert templating.render("{{ trigger.number | e164 }}",
                             {**ctx, templating.REGION: region}) == e164


@pytest.mark.parametrize("raw", ["0412 345 678", "07700 900123", "(415) 555-0123"])
def test_national_numbers_without_a_region_fail_instead_of_guessing(raw):
    with pytest.raises(templating.PhoneFilterError, match="country"):
        templating.render("{{ trigger.number | e164 }}", {**CTX, "trigger": {"number": raw}})


def test_phone_filters_refuse_what_is_not_a_number_and_keep_empty_empty():
    with pytest.raises(templating.PhoneFilterError, match="not-a-phone"):
        templating.render("{{ trigger.n | msisdn }}", {**CTX, "trigger": {"n": "not-a-phone"}})
    assert templating.render("{{ trigger.n | e164 }}", {**CTX, "trigger": {"n": ""}}) == ""
    assert templating.render("{{ trigger.n | e164 }}", {**CTX, "trigger": {"n": None}}) == ""


def test_times_written_differently_compare_as_times():
    item = {"trigger": {"added": "2026-01-15T10:30:00.000Z", "ms": 1768473000500,
                        "offset": "2026-01-15T21:30:00+11:00"}}
    assert templating.condition("(trigger.added | timestamp) == 1768473000", item) is True
    assert templating.condition("(trigger.ms | timestamp) > (trigger.added | timestamp)", item)
    assert templating.condition("(trigger.offset | timestamp) == (trigger.added | timestamp)", item)
    # a missing or unreadable time is older than anything, so a 'since' check is simply false
    assert templating.condition("(trigger.nope | timestamp) >= 1", item) is False
    assert templating.timestamp("not a time") == 0.0


def test_missing_fields_fail_unless_defaulted_and_conditions_read_them_as_false():
    with pytest.raises(TemplateError):
        templating.render("{{ trigger.nope }}", CTX)
    assert templating.render("{{ trigger.nope | default('x') }}", CTX) == "x"
    assert templating.condition("trigger.nope", CTX) is False
    assert templating.condition("{{ not steps.find.data.contact }}", CTX) is True
    assert templating.condition("'vip' in trigger.tags", CTX) is True


def test_templates_cannot_reach_python_internals():
    with pytest.raises(TemplateError):
        templating.render("{{ trigger.__class__.__mro__ }}", CTX)
    with pytest.raises(TemplateError):
        templating.render("{{ ''.__class__.__subclasses__() }}", CTX)


def test_problems_name_the_bad_path():
    sample = {"origin": "1", "message": "m"}
    assert templating.problems("{{ trigger.origin }}", trigger_sample=sample, steps_before={},
                               steps_after=set()) == []
    (msg,) = templating.problems("{{ trigger.orign }}", trigger_sample=sample, steps_before={},
                                 steps_after=set())
    assert "trigger.orign" in msg and "message, origin" in msg
    assert templating.problems("{{ trigger.orign | default('') }}", trigger_sample=sample,
                               steps_before={}, steps_after=set()) == []
    (msg,) = templating.problems("{{ secrets.key }}", trigger_sample=sample, steps_before={},
                                 steps_after=set())
    assert "unknown name 'secrets'" in msg
    assert templating.problems("{% for t in trigger.tags %}{{ t }}{% endfor %}",
                               trigger_sample={"tags": []}, steps_before={}, steps_after=set()) == []


RENDER_ONCE = """
import asyncio, os, sys, time
sys.path.insert(0, {root!r})
from engine.flows import templating

async def main():
    print(await templating.render_bounded("{{{{ trigger.a }}}}", {{"trigger": {{"a": 7}}}}), flush=True)

if __name__ == "__main__":
    asyncio.run(main())
    time.sleep(120)
"""


def test_render_processes_end_with_a_process_killed_with_sigkill(tmp_path):
    """An API or worker killed with SIGKILL (the crash the engine must survive) never shuts its
    render pool down: the render process, waiting on its queue, lived on for good, one more
    after every crash and restart. It now ends within seconds of its parent."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import psutil

    script = tmp_path / "render_once.py"  # spawn re-imports the main module: a real file
    script.write_text(RENDER_ONCE.format(root=str(Path(__file__).resolve().parent.parent)))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "7"
        children = psutil.Process(parent.pid).children(recursive=True)
        assert children, "the render pool started no process"
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    gone, alive = psutil.wait_procs(children, timeout=10)
    still = [p.pid for p in alive]
    for process in alive:  # do not leave them behind when the check fails
        process.kill()
    assert not still, f"render processes {still} outlived their parent"
