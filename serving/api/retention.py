"""Retention of stored files (dry-run report, run now) and legal holds on tickets; admins only."""

from __future__ import annotations

from fastapi import APIRouter

from serving.api.deps import AdminUser, IdPath, ServicesDep, SessionDep
from serving.schemas.retention import LegalHoldIn, LegalHoldOut, RetentionReport
from serving.services import retention, tickets

router = APIRouter(tags=["retention"])


@router.get("/admin/retention", response_model=RetentionReport)
def retention_report(_: AdminUser, services: ServicesDep, session: SessionDep) -> RetentionReport:
    """What a retention run would remove now, each file with the reason; changes nothing."""
    return retention.preview(session, services.settings)


@router.post("/admin/retention/run", response_model=RetentionReport)
def retention_run(_: AdminUser, services: ServicesDep, session: SessionDep) -> RetentionReport:
    """Apply the retention policy now (as the scheduled run does): what was removed, and why."""
    return retention.run(session, services.settings, services.taxonomy)


@router.get("/tickets/{ticket_id}/legal-hold", response_model=LegalHoldOut)
def get_legal_hold(ticket_id: IdPath, _: AdminUser, session: SessionDep) -> LegalHoldOut:
    return LegalHoldOut.model_validate(tickets.get_ticket(session, ticket_id))


@router.put(
    "/tickets/{ticket_id}/legal-hold",
    response_model=LegalHoldOut,
    responses={404: {"description": "No such ticket."}, 409: {"description": "Already so."}},
)
def set_legal_hold(
    ticket_id: IdPath,
    data: LegalHoldIn,
    user: AdminUser,
    services: ServicesDep,
    session: SessionDep,
) -> LegalHoldOut:
    """Place (``hold: true``) or lift a legal hold: a held ticket's evidence is kept whatever the
    retention policy says. Both are recorded in the ticket's audit trail with the reason."""
    ticket = tickets.set_legal_hold(
        session, services.settings, services.taxonomy, user, ticket_id, data
    )
    return LegalHoldOut.model_validate(ticket)
