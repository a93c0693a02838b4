"""The admin console at /admin/ in headless Chromium: a technician enrols, an admin
reads the fleet, a booth's history, edits config with a preview, rolls it out and
reads the audit log. Screenshots go to test-artifacts/screenshots/admin-*.png."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from fixtures.a11y import assert_accessible
from fixtures.browser import LoopbackGuard, new_agent_page, screenshot
from fixtures.keyboard import tab_to
from fixtures.server import RunningServer, start_switchboard
from PIL import Image
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from guichet.audit_chain import verify
from provisioning import audit_trail, enrol_uri, fleet, service
from provisioning.booth_client import ProvisioningClient, enrol
from provisioning.keys import read_private_key
from provisioning.messages import Heartbeat, PeripheralState, PeripheralStatus
from provisioning.models import BoothLiveState
from provisioning.server import SIGNING_KEY_FILE
from switchboard import auth, stats, stats_store
from switchboard.auth import StaffRole
from switchboard.db import Database

pytestmark = pytest.mark.browser

ADMIN_PATH = "/admin/"


@pytest.fixture
def fleet_server(tmp_path: Path) -> Iterator[tuple[RunningServer, dict[str, str]]]:
    """A server with an admin (ada), a technician (tom) and three booths: online at
    florac, degraded at florac (group pilote), never heard from at ganges."""
    server = start_switchboard(tmp_path, booths=())
    db = Database(f"sqlite:///{server.data_dir / 'guichet.sqlite3'}")
    try:
        auth.add_staff(db, "ada", "ada-pw", StaffRole.ADMIN, "Ada Lovelace")
        auth.add_staff(db, "tom", "tom-pw", StaffRole.TECHNICIAN, "Tom Technicien")
        ids = {}
        for name, site in (("ok", "florac"), ("bad", "florac"), ("silent", "ganges")):
            code = service.create_code(db, site).code
            ids[name] = enrol(server.base_url, site, code, tmp_path / name).booth_id
        signing = read_private_key(server.data_dir / SIGNING_KEY_FILE)
        fleet.set_groups(db, signing, fleet.Actor("setup", "admin"), ids["bad"], ["pilote"])
        printer = PeripheralState(role="receipt_printer", state=PeripheralStatus.OK)
        for i in range(30):
            for name in ("ok", "bad"):
                periph = [printer]
                if name == "bad" and i == 29:
                    periph = [
                        PeripheralState(
                            role="receipt_printer",
                            state=PeripheralStatus.UNAVAILABLE,
                            reason="plus de papier",
                        ),
                        PeripheralState(role="scanner", state=PeripheralStatus.OK),
                    ]
                beat = Heartbeat(
                    app_version="0.1.0",
                    config_version=1,
                    uptime_s=3600 + 60 * i,
                    peripherals=periph,
                    rtt_ms=18 + (i % 7) * 4 + (25 if i in (11, 12) else 0),
                    disk_free_mb=12000,
                    memory_used_mb=900 + 8 * i + (i % 5) * 15,
                    memory_total_mb=3900,
                )
                fleet.record_heartbeat(db, ids[name], beat)
        # The degraded booth refused a configuration (reported over the signed API).
        ProvisioningClient(tmp_path / "bad").report_rejection(
            7, "expired", "configuration expirée le 2026-11-20"
        )
        yield server, ids
    finally:
        db.close()
        server.stop()


@pytest.fixture
async def page_guard(browser: Browser) -> AsyncIterator[tuple[Page, LoopbackGuard]]:
    context, page, guard = await new_agent_page(browser, "")
    try:
        yield page, guard
    finally:
        await context.close()
    assert guard.outside == [], f"requests left 127.0.0.1: {guard.outside}"
    bad = [e for e in guard.console_errors if "pageerror" in e or "Content Security Policy" in e]
    assert not bad, guard.console_errors


async def open_admin(page: Page, base_url: str, hash_: str = "") -> None:
    await page.goto(base_url + ADMIN_PATH + hash_)
    await page.wait_for_function(
        "() => window.guichetAdmin && window.guichetAdmin.state !== 'loading'"
    )


async def sign_in(page: Page, base_url: str, username: str) -> None:
    await open_admin(page, base_url)
    await page.get_by_label("Identifiant").fill(username)
    await page.get_by_label("Mot de passe").fill(f"{username}-pw")
    await page.get_by_role("button", name="Se connecter").click()
    await wait_view(page, "fleet")


async def wait_view(page: Page, view: str) -> None:
    await page.wait_for_function(
        f"() => window.guichetAdmin.view === '{view}' && window.guichetAdmin.busy === 0",
        timeout=10_000,
    )


async def test_technician_sees_the_fleet_and_creates_an_enrolment_code_with_a_qr(
    fleet_server: tuple[RunningServer, dict[str, str]],
    page_guard: tuple[Page, LoopbackGuard],
) -> None:
    server, _ = fleet_server
    page, _ = page_guard
    await open_admin(page, server.base_url)
    await expect(page.get_by_role("heading", name="Connexion administration")).to_be_visible()
    await page.get_by_label("Identifiant").fill("tom")
    await page.get_by_label("Mot de passe").fill("wrong")
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_text("Identifiant ou mot de passe incorrect.")).to_be_visible()
    await screenshot(page, "admin-login")
    await assert_accessible(page, "admin-login")

    await sign_in(page, server.base_url, "tom")
    assert await page.evaluate("() => window.guichetAdmin.role") == "technician"
    await expect(page.locator("#ga-n-online")).to_have_text("1")
    await expect(page.locator("#ga-n-degraded")).to_have_text("1")
    await expect(page.locator("#ga-n-offline")).to_have_text("1")
    # Least privilege: no config, rollouts or audit for technicians.
    nav = page.get_by_role("navigation", name="Sections")
    await expect(nav.get_by_role("link", name="Configuration")).to_be_hidden()
    await expect(nav.get_by_role("link", name="Journal")).to_be_hidden()
    await screenshot(page, "admin-fleet-technician")
    await assert_accessible(page, "admin-fleet-technician")

    await nav.get_by_role("link", name="Enrôlement").click()
    await wait_view(page, "enrol")
    await page.locator("#ga-code-site").fill("Mende!")
    await page.get_by_role("button", name="Créer le code").click()
    await expect(page.get_by_role("alert").filter(has_text="minuscules")).to_be_visible()
    await page.locator("#ga-code-site").fill("mende")
    await page.get_by_role("button", name="Créer le code").click()
    code_text = page.locator("#ga-code-text")
    await expect(code_text).not_to_be_empty()
    code = (await code_text.text_content() or "").strip()
    assert re.fullmatch(r"([A-Z2-9]{4}-){3}[A-Z2-9]{4}", code), code
    qr = page.locator("#ga-code-qr svg")
    await expect(qr).to_be_visible()
    await screenshot(page, "admin-enrol-code")
    await assert_accessible(page, "admin-enrol-code")
    # The QR a booth's camera would read says the server, the site and the code.
    png = await qr.screenshot()
    image = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    found = zxingcpp.read_barcodes(image)
    assert found, "QR code not readable"
    # Read as the booth's setup screen reads it (provisioning.enrol_uri).
    assert enrol_uri.parse(found[0].text) == enrol_uri.EnrolTicket(
        code.replace("-", ""), "mende", server.base_url
    )

    # A technician cannot reach admin pages by typing their address.
    await page.goto(server.base_url + ADMIN_PATH + "#/journal")
    await wait_view(page, "fleet")


async def test_admin_reads_a_booth_edits_config_with_preview_rolls_out_and_audits(
    fleet_server: tuple[RunningServer, dict[str, str]],
    page_guard: tuple[Page, LoopbackGuard],
    tmp_path: Path,
) -> None:
    server, ids = fleet_server
    page, _ = page_guard
    await sign_in(page, server.base_url, "ada")
    table = page.locator("#ga-fleet-rows")
    await expect(table.locator("tr")).to_have_count(3)
    await page.locator("#ga-f-site").select_option("ganges")
    await expect(table.locator("tr")).to_have_count(1)
    await page.locator("#ga-f-site").select_option("")
    await page.locator("#ga-f-group").select_option("pilote")
    await expect(table.locator("tr")).to_have_count(1)
    await expect(table.get_by_text("plus de papier", exact=False)).to_be_visible()
    await expect(table).to_contain_text(
        "La configuration v7 a été refusée par la borne : configuration expirée le 2026-11-20"
    )
    await page.locator("#ga-f-group").select_option("")
    await page.locator("#ga-f-search").fill(ids["ok"])
    await expect(table.locator("tr")).to_have_count(1)
    await page.locator("#ga-f-search").fill("")
    await screenshot(page, "admin-fleet")
    await assert_accessible(page, "admin-fleet")

    # One booth: history charts, peripherals, config with sources.
    await table.get_by_role("link", name=ids["bad"]).click()
    await wait_view(page, "booth")
    await expect(page.locator("#ga-booth-status")).to_have_text("Dégradée")
    await expect(page.locator("#ga-booth-periph")).to_contain_text("plus de papier")
    await expect(page.locator("#ga-booth-rejection")).to_contain_text("v7 a été refusée")
    await expect(page.locator("#ga-booth-rejection")).to_contain_text("[expired]")
    assert await page.locator("#ga-chart-rtt path.ga-spark-line").count() == 1
    assert await page.locator("#ga-chart-mem path.ga-spark-line").count() == 1
    await expect(page.locator("#ga-chart-rtt")).to_contain_text("max 63 ms")
    await screenshot(page, "admin-booth")
    await assert_accessible(page, "admin-booth")

    # Config editor: an invalid value is refused with its key, before anything is applied.
    await (
        page.get_by_role("navigation", name="Sections")
        .get_by_role("link", name="Configuration")
        .click()
    )
    await wait_view(page, "config")
    await page.locator("#ga-c-scope").select_option("site")
    await page.locator("#ga-c-target").fill("florac")
    await page.locator("#ga-c-values").fill("volume = 140\nbranding.name = Mairie de Florac")
    await page.get_by_role("button", name="Prévisualiser").click()
    errors = page.locator("#ga-c-errors")
    await expect(errors).to_contain_text("volume")
    await expect(page.get_by_role("button", name="Appliquer")).to_be_disabled()
    await screenshot(page, "admin-config-invalid")
    await assert_accessible(page, "admin-config-invalid")

    await page.locator("#ga-c-values").fill("volume = 65\nbranding.name = Mairie de Florac")
    await page.get_by_role("button", name="Prévisualiser").click()
    diff = page.locator("#ga-c-diff-rows")
    await expect(diff.locator("tr")).to_have_count(2)
    await expect(page.locator("#ga-c-affected")).to_contain_text("2 bornes concernées")
    await expect(errors).to_be_hidden()
    await screenshot(page, "admin-config-preview")
    await assert_accessible(page, "admin-config-preview")
    await page.get_by_role("button", name="Appliquer").click()
    await expect(page.locator("#ga-c-done")).to_contain_text("2 bornes reçoivent")
    await page.locator("#ga-c-booth").select_option(ids["ok"])
    await wait_view(page, "config")
    row = page.locator("#ga-c-resolved tr[data-key='volume']")
    await expect(row).to_contain_text("65")
    await expect(row).to_contain_text("site florac")
    await expect(page.locator("#ga-c-resolved tr[data-key='log_level']")).to_contain_text(
        "valeur par défaut"
    )
    await screenshot(page, "admin-config-applied")
    await assert_accessible(page, "admin-config-applied")

    # Staged: the pilot group first, the rest on approval.
    await page.locator("#ga-c-values").fill("volume = 45")
    await page.locator("#ga-c-canary").fill("pilote")
    await page.get_by_role("button", name="Prévisualiser").click()
    await expect(page.locator("#ga-c-affected")).to_contain_text("groupe pilote")
    await page.get_by_role("button", name="Appliquer").click()
    await expect(page.locator("#ga-c-done")).to_contain_text("Déploiement n°")
    await (
        page.get_by_role("navigation", name="Sections")
        .get_by_role("link", name="Déploiements")
        .click()
    )
    await wait_view(page, "rollouts")
    rollout = page.locator("#ga-rollout-rows tr").first
    await expect(rollout).to_contain_text("Pilote en cours")
    await screenshot(page, "admin-rollout-canary")
    await assert_accessible(page, "admin-rollout-canary")
    await rollout.get_by_role("button", name="Approuver pour tout le reste").click()
    await expect(rollout).to_contain_text("Terminé")
    await expect(rollout).to_contain_text("par ada")

    # Revoke the silent booth (two steps), then read the audit log.
    await page.goto(f"{server.base_url}{ADMIN_PATH}#/borne/{ids['silent']}")
    await wait_view(page, "booth")
    await page.get_by_role("button", name="Révoquer cette borne").click()
    await assert_accessible(page, "admin-revoke-confirm")
    await page.get_by_role("button", name="Confirmer la révocation").click()
    await expect(page.locator("#ga-booth-status")).to_have_text("Révoquée")

    await (
        page.get_by_role("navigation", name="Sections").get_by_role("link", name="Journal").click()
    )
    await wait_view(page, "audit")
    audit = page.locator("#ga-audit-rows")
    await expect(audit.locator("tr").first).to_contain_text("Borne révoquée")
    await expect(audit).to_contain_text("Déploiement généralisé")
    await expect(audit).to_contain_text('{"volume":65,"branding.name":"Mairie de Florac"}')
    # The whole chained trail downloads from the Journal, and verifies.
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Exporter le journal").click()
    download = await info.value
    saved = tmp_path / "audit.jsonl"
    await download.save_as(saved)
    exported = audit_trail.read_export(saved)
    assert verify(exported) is None
    assert exported[-1].action == "audit.export" and exported[-1].actor == "ada"
    await screenshot(page, "admin-audit")
    await assert_accessible(page, "admin-audit")


async def test_an_agent_session_opens_nothing_in_the_admin_console(
    fleet_server: tuple[RunningServer, dict[str, str]],
    page_guard: tuple[Page, LoopbackGuard],
) -> None:
    server, _ = fleet_server
    page, _ = page_guard
    response = await page.request.post(
        server.base_url + "/api/v1/agent/login",
        data={"username": "alice", "password": server.agent_passwords["alice"]},
    )
    assert response.ok
    await open_admin(page, server.base_url)
    assert await page.evaluate("() => window.guichetAdmin.state") == "signed_out"
    html = await (await page.request.get(server.base_url + ADMIN_PATH)).text()
    assert "<script>" not in html and "style=" not in html
    # The offline threshold is the booth's own interval: 3 missed heartbeats.
    db = Database(f"sqlite:///{server.data_dir / 'guichet.sqlite3'}")
    try:
        with db.session() as session, session.begin():
            session.execute(
                update(BoothLiveState).values(received_at=datetime.now(UTC) - timedelta(hours=1))
            )
        assert {b.status for b in fleet.fleet_summary(db)} == {"offline"}
    finally:
        db.close()


async def test_admin_reads_statistics_filters_them_and_exports_csv(
    fleet_server: tuple[RunningServer, dict[str, str]],
    page_guard: tuple[Page, LoopbackGuard],
) -> None:
    server, _ = fleet_server
    page, _ = page_guard
    today = datetime.now(UTC).date()
    db = Database(f"sqlite:///{server.data_dir / 'guichet.sqlite3'}")
    try:
        # Counted as the switchboard's recorder counts (its path is tested in
        # tests/switchboard/test_stats_api.py): 20 days of two services at two sites.
        batch: dict[stats.Key, stats.DayCounts] = {}
        for back in range(20):
            day = today - timedelta(days=back)
            for service_id, site, answered in (("caf", "florac", 4), ("impots", "ganges", 2)):
                counts = stats.DayCounts()
                for _ in range(answered):
                    counts.add(stats.joined())
                    counts.add(stats.answered(60 + 30 * (back % 5)))
                    counts.add(stats.ended(420))
                counts.add(stats.joined())
                counts.add(stats.abandoned())
                counts.add(stats.rated(stats.Rating.HAPPY, None))
                if back % 4 == 0:
                    counts.add(stats.rated(stats.Rating.UNHAPPY, stats.RatingReason.WAIT))
                batch[stats.Key(day, service_id, site)] = counts
        stats_store.add_counts(db, batch)
    finally:
        db.close()

    await sign_in(page, server.base_url, "ada")
    nav = page.get_by_role("navigation", name="Sections")
    await nav.get_by_role("link", name="Statistiques").click()
    await wait_view(page, "stats")
    kpis = page.locator("#ga-stats-kpis")
    await expect(kpis).to_contain_text("160Appels proposés")  # 20 × (5 + 3)
    await expect(kpis).to_contain_text("120Appels répondus")
    await expect(kpis).to_contain_text("40 (25 %)Abandons avant réponse")
    await expect(kpis).to_contain_text("7 min 00 sDurée moyenne")
    await expect(page.locator("#ga-stats-services tr")).to_have_count(2)
    # Services by their catalogue name, not their id.
    await expect(page.locator("#ga-stats-services")).to_contain_text("Allocations familiales")
    await expect(page.locator("#ga-stats-service")).to_contain_text("Impôts")
    await expect(page.locator("#ga-stats-sites tr")).to_have_count(2)
    await expect(page.locator("#ga-stats-calls svg rect")).to_have_count(40)
    await expect(page.locator("#ga-stats-ratings")).to_contain_text("Attente trop longue")
    await page.set_viewport_size({"width": 1280, "height": 1500})
    await screenshot(page, "admin-stats")
    await assert_accessible(page, "admin-stats")

    await page.locator("#ga-stats-site").select_option("ganges")
    await page.get_by_role("button", name="Afficher").click()
    await wait_view(page, "stats")
    await expect(kpis).to_contain_text("60Appels proposés")
    await expect(page.locator("#ga-stats-services tr")).to_have_count(1)
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Exporter en CSV").click()
    download = await download_info.value
    text = Path(await download.path()).read_text(encoding="utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("jour;service;site;appels_proposes")
    assert len(lines) == 21 and all(";impots;ganges;3;2;1;" in line for line in lines[1:])
    await screenshot(page, "admin-stats-ganges")
    await assert_accessible(page, "admin-stats-ganges")


async def test_admin_console_is_usable_by_keyboard_alone(
    fleet_server: tuple[RunningServer, dict[str, str]],
    page_guard: tuple[Page, LoopbackGuard],
) -> None:
    """Sign in, go through every section and open a booth with Tab / Enter only."""
    server, ids = fleet_server
    page, _ = page_guard
    keys = page.keyboard
    await open_admin(page, server.base_url)
    await tab_to(page, "ga-username")
    await keys.type("ada")
    await tab_to(page, "ga-password")
    await keys.type("ada-pw")
    await keys.press("Enter")
    await wait_view(page, "fleet")

    # Each section from the navigation, then into its first control.
    sections = (
        ("#/configuration", "config", "ga-c-scope"),
        ("#/deploiements", "rollouts", None),
        ("#/enrolement", "enrol", "ga-code-site"),
        ("#/statistiques", "stats", "ga-stats-start"),
        ("#/journal", "audit", "ga-audit-export"),
        ("#/parc", "fleet", "ga-fleet-refresh"),
    )
    for href, view, first_control in sections:
        await tab_to(page, href, backwards=await _nav_is_behind(page, href))
        await keys.press("Enter")
        await wait_view(page, view)
        assert await page.get_attribute(f"a[href='{href}']", "aria-current") == "page"
        if first_control:
            await tab_to(page, first_control)

    # A booth from the fleet table, by its link.
    await tab_to(page, f"#/borne/{ids['bad']}")
    await keys.press("Enter")
    await wait_view(page, "booth")
    await expect(page.locator("#ga-booth-status")).to_have_text("Dégradée")
    await tab_to(page, "ga-revoke")
    await tab_to(page, "ga-logout", backwards=True, limit=60)
    await keys.press("Enter")
    await expect(page.get_by_role("heading", name="Connexion administration")).to_be_visible()


async def _nav_is_behind(page: Page, href: str) -> bool:
    """Whether the link comes before the focused element in document order."""
    return bool(
        await page.evaluate(
            """(href) => {
              const link = document.querySelector(`a[href='${href}']`);
              const active = document.activeElement;
              if (!active || active === document.body) return false;
              return !!(active.compareDocumentPosition(link) & Node.DOCUMENT_POSITION_PRECEDING);
            }""",
            href,
        )
    )
