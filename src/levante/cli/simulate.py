"""``levante simulate``: a simulated company on a fresh database, billed by the real code."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from levante import simulation, tenancy
from levante.cli.context import CLI, console, database, hand_over, handled, settings
from levante.pricing import format_cents
from levante.tenancy import bootstrap
from levante.vocabulary import Role


def simulate(
    scenario: Annotated[
        Path | None,
        typer.Option(help="A scenario (TOML); by default the seed's company, ~$100M ARR."),
    ] = None,
    scale: Annotated[
        float,
        typer.Option(min=0.001, max=1.0, help="Customers and ARR times this; shares stay."),
    ] = 1.0,
    show_scenario: Annotated[
        bool, typer.Option("--show-scenario", help="Print the default scenario and stop.")
    ] = False,
    operator_email: Annotated[
        str | None,
        typer.Option(
            help="Make this address an owner of the operator's organisation, to sign "
            "up with and open the dashboard."
        ),
    ] = None,
) -> None:
    """Build a simulated company through the services that bill real customers: API
    customers whose usage goes through the ledger's settlement code (token counts come from a
    model of demand, not from the engine), chat users on Free, Pro and Team, enterprise
    licences whose sites send signed usage reports, support contracts with tickets; monthly
    invoice runs, payments (some late: dunning) and renewals. Needs a fresh database."""
    if show_scenario:
        sys.stdout.write(simulation.default_text())
        return
    config = settings()
    with handled():
        plan = simulation.load_scenario(scenario)
        if scale != 1.0:
            plan = plan.scaled(scale)
    console.print(
        f"Simulating {plan.name}: {plan.months} months, aiming at "
        f"{format_cents(round(plan.arr * 100))} ARR. Token counts come from a model of demand, "
        "not from the engine; everything else goes through the billing code."
    )
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    # A simulated year restricts and restores accounts by the hundred: the billing code's
    # warnings about them would bury the progress bar.
    logging.getLogger("levante").setLevel(logging.ERROR)
    with (
        handled(),
        database() as db,
        Progress(*columns, console=console, transient=True) as progress,
    ):
        # The operator's organisation first, as `levante serve` makes it on a fresh database.
        issued = bootstrap(db, config.bootstrap_organization)
        task = progress.add_task("simulating", total=None)

        def step(done: int, total: int, what: str) -> None:
            progress.update(task, completed=done, total=total, description=f"simulating {what}")

        outcome = simulation.simulate(db, config, plan, progress=step)
        claim = None
        if operator_email:
            with db.session() as session:
                [operator] = [o for o in tenancy.list_organizations(session, CLI) if o.is_operator]
                claim = tenancy.add_member(
                    session, CLI, operator.slug, email=operator_email, role=Role.OWNER,
                    public_url=config.billing.public_url,
                ).claim_link  # fmt: skip
    if issued is not None:
        hand_over(issued.secret, config)
    table = Table("made", "count", title=f"{outcome.first} to {outcome.last}")
    for label, value in (
        ("organisations", outcome.organizations), ("users", outcome.users),
        ("usage records", outcome.usage_records), ("invoices", outcome.invoices),
        ("invoices paid", outcome.payments), ("tickets", outcome.tickets),
        ("licences", outcome.licenses), ("site usage reports", outcome.reports),
    ):  # fmt: skip
        table.add_row(label, f"{value:,}")
    console.print(table)
    if claim is not None:
        console.print(f"{operator_email} is an owner of the operator's organisation; to choose "
                      "its password, open (once, within 7 days):", markup=False)  # fmt: skip
        console.print(claim, markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"done in {outcome.seconds:.0f} s. See it: `levante revenue`, or the dashboard at "
        "/console/operator/revenue once `levante serve` runs"
        + (f" (sign in there as {operator_email})." if operator_email else ".")
    )
