"""manage.py create_user USERNAME --role admin|reviewer [--password P] [--email E] (SPEC §8)."""

from django.core.management.base import BaseCommand, CommandError, CommandParser, no_translations

from annotation.services import user_create
from annotation.services.users import ROLES


class Command(BaseCommand):
    help = "Create an admin (staff) or a reviewer (member of the reviewers group)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--password", help="default: a generated one, printed once")
        parser.add_argument("--email", default="")

    @no_translations  # messages in English, as the other commands print them
    def handle(self, *args, **options) -> None:
        try:
            user, password = user_create(
                username=options["username"],
                role=options["role"],
                password=options["password"],
                email=options["email"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"created {options['role']} {user.username!r}")
        if not options["password"]:
            self.stdout.write(f"password: {password}")
