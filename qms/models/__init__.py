"""All models, imported here so that Alembic and the app see the whole schema."""
from qms.models.accounts import LoginSession, Role, User, UserRole
from qms.models.api_tokens import ApiToken
from qms.models.audit_log import AuditLog
from qms.models.audits import (
                                  Audit,
                                  AuditProgramme,
                                  AuditStatus,
                                  ChecklistItem,
                                  ChecklistResult,
                                  EvidenceFile,
                                  Finding,
                                  FindingKind,
)
from qms.models.base import Base
from qms.models.calendar import CalendarOverride, DayKind
from qms.models.corrective_actions import ActionItem, CarStatus, CorrectiveAction, Verification
from qms.models.documents import (
                                  Acknowledgement,
                                  Attachment,
                                  Document,
                                  DocumentKind,
                                  DocumentVersion,
                                  VersionStatus,
)
from qms.models.dossiers import (
                                  Channel,
                                  Dossier,
                                  DossierEvent,
                                  DossierFile,
                                  DossierSequence,
                                  DossierStatus,
                                  DossierStep,
                                  EventKind,
                                  ResultDelivery,
                                  Timeliness,
)
from qms.models.feedback import (
                                  Feedback,
                                  FeedbackKind,
                                  FeedbackStatus,
                                  SatisfactionLevel,
                                  SatisfactionRating,
)
from qms.models.management_reviews import ManagementReview, ReviewAction
from qms.models.nonconformities import NcSource, NcStatus, Nonconformity, Severity
from qms.models.notifications import Notification, NotificationKind
from qms.models.org import Agency, AgencyLevel, Department, Field
from qms.models.procedures import (
                                  OnlineLevel,
                                  PauseKind,
                                  Procedure,
                                  ProcedureCase,
                                  ProcedureVersion,
                                  ProcessStep,
                                  StepKind,
                                  StepRole,
                                  SupplementRule,
                                  TimeUnit,
)
from qms.models.reviews import (
                                  MonthlyReview,
                                  MonthlyReviewStatus,
                                  ObjectiveComparison,
                                  QualityObjective,
)
from qms.models.rollups import MonthlyRollup, RollupMonth
from qms.models.sequences import CodeSequence

__all__ = [
    "Acknowledgement",
    "ActionItem",
    "Agency",
    "AgencyLevel",
    "ApiToken",
    "Attachment",
    "Audit",
    "AuditLog",
    "AuditProgramme",
    "AuditStatus",
    "Base",
    "CalendarOverride",
    "CarStatus",
    "Channel",
    "ChecklistItem",
    "ChecklistResult",
    "CodeSequence",
    "CorrectiveAction",
    "DayKind",
    "Department",
    "Document",
    "DocumentKind",
    "DocumentVersion",
    "Dossier",
    "DossierEvent",
    "DossierFile",
    "DossierSequence",
    "DossierStatus",
    "DossierStep",
    "EventKind",
    "EvidenceFile",
    "Feedback",
    "FeedbackKind",
    "FeedbackStatus",
    "Field",
    "Finding",
    "FindingKind",
    "ManagementReview",
    "MonthlyReview",
    "MonthlyReviewStatus",
    "MonthlyRollup",
    "NcSource",
    "NcStatus",
    "Nonconformity",
    "Notification",
    "NotificationKind",
    "ObjectiveComparison",
    "OnlineLevel",
    "PauseKind",
    "ProcedureCase",
    "Procedure",
    "ProcedureVersion",
    "ProcessStep",
    "QualityObjective",
    "ResultDelivery",
    "ReviewAction",
    "Role",
    "RollupMonth",
    "SatisfactionLevel",
    "SatisfactionRating",
    "Severity",
    "StepKind",
    "StepRole",
    "SupplementRule",
    "Timeliness",
    "TimeUnit",
    "User",
    "UserRole",
    "LoginSession",
    "Verification",
    "VersionStatus",
]
