"""Commands for people and systems: ``user add|list|password|role|companies|activate|deactivate``,
``token create|list|revoke`` and ``serve``.

Passwords are never command-line arguments (they would land in shell history and
``ps``): they are prompted twice with hidden input, or read from an environment
variable for unattended installs (``COBRANZA_USER_PASSWORD`` for ``user add``,
``COBRANZA_NEW_PASSWORD`` for ``user password``). The command line acts as the
operator «cli» in the audit log.
"""

from __future__ import annotations

import os

import click

from cfdi_cobranza.cli.common import (
    EXIT_OK,
    AppContext,
    emit_json,
    json_option,
    pass_app,
    reply,
    table,
)
from cfdi_cobranza.db.models.users import User
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import ValidationError
from cfdi_cobranza.services import user_companies as user_companies_service
from cfdi_cobranza.services import users as users_service

ROLE_CHOICE = click.Choice(list(users_service.ROLES), case_sensitive=False)


def _fmt_dt(value: object) -> str:
    return value.strftime("%d/%m/%Y %H:%M") if hasattr(value, "strftime") else "—"


@click.group("user")
def user_group() -> None:
    """Usuarios de la interfaz web."""


@user_group.command("add")
@click.option("--username", required=True, help="Nombre de usuario (minúsculas).")
@click.option("--role", required=True, type=ROLE_CHOICE, help="Rol del usuario.")
@click.option("--name", "full_name", help="Nombre completo.")
@json_option
@pass_app
def user_add(app: AppContext, username: str, role: str, full_name: str | None, as_json: bool) -> int:
    """Crea un usuario; la contraseña se pide dos veces (o COBRANZA_USER_PASSWORD)."""
    password = os.environ.get("COBRANZA_USER_PASSWORD")
    if not password:
        password = click.prompt("Contraseña", hide_input=True, confirmation_prompt="Repita la contraseña")
    with transaction(app.engine) as session:
        user = users_service.add_user(session, username, password, role, full_name, actor="cli")
        out = {"username": user.username, "role": user.role, "full_name": user.full_name}
    return reply(as_json, out,
                 f"Usuario «{out['username']}» creado con rol {users_service.ROLES[str(out['role'])]}.")


@user_group.command("list")
@json_option
@pass_app
def user_list(app: AppContext, as_json: bool) -> int:
    """Lista los usuarios."""
    with transaction(app.engine) as session:
        rows = [
            {"username": u.username, "full_name": u.full_name, "role": u.role, "active": u.active,
             "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
             "_last": _fmt_dt(u.last_login_at)}
            for u in users_service.list_users(session)
        ]
    if as_json:
        emit_json([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
    elif rows:
        click.echo(table(
            [[str(r["username"]), str(r["full_name"] or ""), users_service.ROLES[str(r["role"])],
              "sí" if r["active"] else "no", str(r["_last"])] for r in rows],
            ["Usuario", "Nombre", "Rol", "Activo", "Último acceso"],
        ))
    else:
        click.echo("No hay usuarios. Cree uno con: cobranza user add --username admin --role administrador")
    return EXIT_OK


def _user_out(user: User) -> dict[str, object]:
    return {"username": user.username, "full_name": user.full_name, "role": user.role, "active": user.active}


def _new_password() -> str:
    """COBRANZA_NEW_PASSWORD, else asked twice without echo (never an argument)."""
    password = os.environ.get("COBRANZA_NEW_PASSWORD")
    if password:
        return password
    password = click.prompt("Contraseña nueva", hide_input=True, err=True)
    again = click.prompt("Repita la contraseña nueva", hide_input=True, err=True)
    if password != again:
        raise ValidationError("Las contraseñas no coinciden; no se cambió nada.", code="CONTRASENA_NO_COINCIDE")
    return str(password)


@user_group.command("password")
@click.argument("username")
@json_option
@pass_app
def user_password(app: AppContext, username: str, as_json: bool) -> int:
    """Restablece la contraseña de USERNAME (COBRANZA_NEW_PASSWORD o se pide dos veces).

    Quita el bloqueo por intentos fallidos y cierra las sesiones web abiertas del usuario.
    """
    password = _new_password()
    with transaction(app.engine) as session:
        user = users_service.reset_password(session, username, password, actor="cli")
        out = _user_out(user)
    return reply(as_json, {**out, "password_changed": True},
                 f"Contraseña de «{out['username']}» restablecida; sus sesiones abiertas se cerraron.")


@user_group.command("role")
@click.argument("username")
@click.argument("role", type=ROLE_CHOICE, metavar="ROL")
@json_option
@pass_app
def user_role(app: AppContext, username: str, role: str, as_json: bool) -> int:
    """Cambia el rol de USERNAME a ROL (siempre queda al menos un administrador activo)."""
    with transaction(app.engine) as session:
        before = users_service.get_user(session, username).role
        user = users_service.set_role(session, username, role, actor="cli")
        out = {**_user_out(user), "previous_role": before, "changed": before != user.role}
    if as_json:
        emit_json(out)
    elif out["changed"]:
        click.echo(f"Rol de «{out['username']}»: {users_service.ROLES[str(before)]} → "
                   f"{users_service.ROLES[str(out['role'])]}.")
    else:
        click.echo(f"«{out['username']}» ya tenía el rol {users_service.ROLES[str(out['role'])]}; sin cambios.")
    return EXIT_OK


@user_group.command("companies")
@click.argument("username")
@click.argument("rfcs", nargs=-1, metavar="[RFC]...")
@click.option("--todas", is_flag=True, help="Quita el límite: el usuario ve todas las empresas.")
@json_option
@pass_app
def user_companies(app: AppContext, username: str, rfcs: tuple[str, ...], todas: bool, as_json: bool) -> int:
    """Limita a USERNAME a las empresas RFC... (sin RFC: muestra a cuáles está limitado).

    Un usuario limitado ve y toca solo las facturas, pagos, REP, clientes, reportes y
    tokens de sus empresas. Los administradores ven siempre todas.
    """
    if todas and rfcs:
        raise ValidationError("Use --todas o una lista de RFC, no ambos.", code="OPCIONES_EN_CONFLICTO")
    with transaction(app.engine) as session:
        if todas or rfcs:
            companies = user_companies_service.set_user_companies(session, username, rfcs, actor="cli")
        else:
            companies = user_companies_service.user_company_rfcs(session, users_service.get_user(session, username))
        name = users_service.get_user(session, username).username
    text = (f"«{name}» ve solo las empresas: {', '.join(companies)}." if companies
            else f"«{name}» ve todas las empresas.")
    return reply(as_json, {"username": name, "empresas": companies, "todas": not companies}, text)


def _set_active(app: AppContext, username: str, active: bool, as_json: bool) -> int:
    with transaction(app.engine) as session:
        before = users_service.get_user(session, username).active
        user = users_service.set_active(session, username, active, actor="cli")
        out = {**_user_out(user), "changed": before != user.active}
    if as_json:
        emit_json(out)
    elif not out["changed"]:
        click.echo(f"«{out['username']}» ya estaba {'activo' if active else 'desactivado'}; sin cambios.")
    elif active:
        click.echo(f"Usuario «{out['username']}» activado.")
    else:
        click.echo(f"Usuario «{out['username']}» desactivado; sus sesiones abiertas se cerraron.")
    return EXIT_OK


@user_group.command("deactivate")
@click.argument("username")
@json_option
@pass_app
def user_deactivate(app: AppContext, username: str, as_json: bool) -> int:
    """Desactiva a USERNAME: no puede entrar y sus sesiones abiertas terminan."""
    return _set_active(app, username, False, as_json)


@user_group.command("activate")
@click.argument("username")
@json_option
@pass_app
def user_activate(app: AppContext, username: str, as_json: bool) -> int:
    """Vuelve a activar a USERNAME."""
    return _set_active(app, username, True, as_json)


@click.group("token")
def token_group() -> None:
    """Tokens de la API para otros sistemas."""


@token_group.command("create")
@click.option("--name", required=True, help="Sistema que usará el token (p. ej. «ERP»).")
@click.option("--role", required=True, type=ROLE_CHOICE, help="Rol con el que actúa el sistema.")
@json_option
@pass_app
def token_create(app: AppContext, name: str, role: str, as_json: bool) -> int:
    """Crea un token de API; se muestra una sola vez."""
    with transaction(app.engine) as session:
        token, clear = users_service.create_token(session, name, role, created_by=users_service.CLI_CREATOR)
        out = {"id": token.id, "name": token.name, "role": token.role, "token": clear}
    if as_json:
        emit_json(out)
    else:
        click.echo(f"Token «{out['name']}» creado (rol {out['role']}). Cópielo ahora; no se volverá a mostrar:")
        click.echo(str(out["token"]))
    return EXIT_OK


@token_group.command("list")
@json_option
@pass_app
def token_list(app: AppContext, as_json: bool) -> int:
    """Lista los tokens (sin mostrar su valor)."""
    with transaction(app.engine) as session:
        rows = [
            {"id": t.id, "name": t.name, "prefix": t.prefix, "role": t.role, "created_by": t.created_by,
             "revoked": t.revoked_at is not None, "_last": _fmt_dt(t.last_used_at)}
            for t in users_service.list_tokens(session)
        ]
    if as_json:
        emit_json([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
    else:
        click.echo(table(
            [[str(r["id"]), str(r["name"]), f"{r['prefix']}…", str(r["role"]), str(r["created_by"]),
              "revocado" if r["revoked"] else "vigente", str(r["_last"])] for r in rows],
            ["Id", "Nombre", "Prefijo", "Rol", "Creado por", "Estado", "Último uso"],
        ))
    return EXIT_OK


@token_group.command("revoke")
@click.argument("token_id", type=int)
@pass_app
def token_revoke(app: AppContext, token_id: int) -> int:
    """Revoca un token por su Id."""
    with transaction(app.engine) as session:
        users_service.revoke_token(session, token_id, actor="cli")
    click.echo(f"Token {token_id} revocado.")
    return EXIT_OK


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Dirección en la que escucha.")
@click.option("--port", default=5000, show_default=True, type=int, help="Puerto.")
@pass_app
def serve_cmd(app: AppContext, host: str, port: int) -> int:
    """Servidor de desarrollo de la interfaz web (en producción use gunicorn «web.wsgi:app»)."""
    # Only this command loads the web app (Flask, every page): the other commands start without it.
    from werkzeug.serving import run_simple

    from cfdi_cobranza.warmup import warm_up
    from web import create_app

    app.migrate()
    flask_app = create_app({"DATABASE_URL": app.settings.database_url})

    warm_up()  # before the first request: schemas compiled, catalogs loaded
    # Background jobs: to the broker when COBRANZA_BROKER_URL is set (workers run them),
    # else worker threads in this process take them from the database (the demo).
    from cfdi_cobranza.cli.jobs import connect_publisher, runtime
    from cfdi_cobranza.worker.embedded import EmbeddedWorker

    embedded = None if connect_publisher(app) is not None else EmbeddedWorker(runtime(app)).start()
    click.echo(f"Interfaz web en http://{host}:{port}/ (Ctrl+C para terminar)."
               + ("" if embedded is None else " Tareas en segundo plano: en este proceso."))
    try:
        run_simple(host, port, flask_app, use_reloader=False, threaded=True)
    finally:
        if embedded is not None:
            embedded.stop(timeout=5)
    return EXIT_OK


def register(cli: click.Group) -> None:
    for cmd in (user_group, token_group, serve_cmd):
        cli.add_command(cmd)
