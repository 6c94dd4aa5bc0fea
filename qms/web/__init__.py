"""Web layer: one blueprint package per area. Views parse input, call one service,
commit, and render; the rules live in qms.services."""
from flask import Flask


def register_blueprints(app: Flask) -> None:
    from qms.web.admin import bp as admin_bp
    from qms.web.auth import bp as auth_bp
    from qms.web.documents import bp as documents_bp
    from qms.web.dossiers import bp as dossiers_bp
    from qms.web.main import bp as main_bp
    from qms.web.public import bp as public_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(documents_bp, url_prefix="/documents")
    app.register_blueprint(public_bp, url_prefix="/thu-tuc")
    app.register_blueprint(dossiers_bp, url_prefix="/dossiers")
