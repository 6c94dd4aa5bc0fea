"""Web layer: one blueprint package per area. Views parse input, check access, call one
service through qms.web.actions.act (which commits once, or rolls back and says why), and
redirect or render; the rules live in qms.services."""
from flask import Flask


def register_blueprints(app: Flask) -> None:
    from qms.web.admin import bp as admin_bp
    from qms.web.api import bp as api_bp
    from qms.web.audits import bp as audits_bp
    from qms.web.auth import bp as auth_bp
    from qms.web.documents import bp as documents_bp
    from qms.web.dossiers import bp as dossiers_bp
    from qms.web.main import bp as main_bp
    from qms.web.notifications import bp as notifications_bp
    from qms.web.public import bp as public_bp
    from qms.web.quality import bp as quality_bp
    from qms.web.reviews import bp as reviews_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(documents_bp, url_prefix="/documents")
    app.register_blueprint(public_bp, url_prefix="/thu-tuc")
    app.register_blueprint(dossiers_bp, url_prefix="/dossiers")
    app.register_blueprint(quality_bp, url_prefix="/quality")
    app.register_blueprint(audits_bp, url_prefix="/audits")
    app.register_blueprint(reviews_bp, url_prefix="/reviews")
    app.register_blueprint(notifications_bp, url_prefix="/notifications")
