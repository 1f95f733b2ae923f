"""Signing in and out."""
from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from o2c import ratelimit
from o2c.services.platform import users
from o2c.services.platform.uow import unit_of_work
from o2c.web.core import Form, Problem, bp, engine, safe_next


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    from o2c.web import WebUser
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request.args.get("next")))
    form = Form({"username": request.form.get("username", "")})
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:64]
        password = request.form.get("password", "")[:1024]
        wait = ratelimit.sign_in_wait(username) if username else None
        if not username or not password:
            form.problem = Problem("validation_error", "Enter your user name and password.")
        elif wait is not None:
            # Refused before the password is checked: a guesser learns nothing, and the account's
            # failure count (the lockout) is not spent by someone else's guessing.
            how_long = f"{-(-wait // 60)} minutes" if wait >= 120 else f"{wait} second{'s' if wait != 1 else ''}"
            form.problem = Problem("rate_limited", f"Too many sign-in attempts for this user name or from this "
                                                   f"address. Wait {how_long} and try again.")
            return render_template("web/login.html", form=form), 429, {"Retry-After": str(wait)}
        else:
            # The attempt commits even when refused: failures are counted.
            with unit_of_work(engine(), f"login:{username}") as tx:
                outcome = users.sign_in(tx, username, password)
            if outcome.principal is not None and outcome.session_id is not None:
                session.clear()  # a new session on sign-in: no fixation
                session.permanent = True
                login_user(WebUser(outcome.session_id, outcome.principal))
                flash(f"Signed in as {outcome.principal.name} ({outcome.principal.role}).", "success")
                return redirect(safe_next(request.args.get("next")), 303)
            form.problem = Problem("unauthorized", outcome.refusal or "Sign-in refused.")
        return render_template("web/login.html", form=form), 401
    return render_template("web/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    logout_user()
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("web.login"), 303)
