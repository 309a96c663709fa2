"""Tables that never split a word: host names, usernames, ports and ids stay whole.

rich shrinks a table that is too wide by folding cells anywhere (`mail.la|b.test`).
`show_table` instead gives every column at least its longest word (a whole cell for
columns marked no_wrap), so text only ever wraps between words; when even that does not
fit the console, the rows are printed stacked, one `column: value` line each.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

STACK_INDENT = 2


def _plain(cell: RenderableType) -> str:
    if isinstance(cell, Text):
        return cell.plain
    return cell if isinstance(cell, str) else ""


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def _longest_line(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def fit_widths(table: Table, width: int) -> list[int] | None:
    """Column widths (without padding) that split no word, or None when none fit."""
    columns = table.columns
    if not columns:
        return []
    minimum, maximum = [], []
    for column in columns:
        texts = [_plain(column.header), *(_plain(c) for c in column.cells)]
        longest = max((_longest_line(t) for t in texts), default=0)
        words = max((_longest_word(t) for t in texts), default=0)
        minimum.append(max(longest if column.no_wrap else words, 1))
        maximum.append(max(longest, 1))
    padding = sum(_padding(table, index) for index in range(len(columns)))
    borders = 0
    if table.box:
        borders = len(columns) + 1 if table.show_edge else len(columns) - 1
    available = width - padding - borders
    if sum(minimum) > available:
        return None
    widths = list(minimum)
    spare = available - sum(widths)
    # Give the spare room to the columns that can use it, narrowest need first.
    wants = sorted(range(len(columns)), key=lambda i: maximum[i] - widths[i])
    for position, index in enumerate(wants):
        share = spare // (len(wants) - position)
        extra = min(maximum[index] - widths[index], share)
        widths[index] += extra
        spare -= extra
    return widths


def _padding(table: Table, index: int) -> int:
    """Horizontal padding of a column as rich renders it (edges, collapsed padding)."""
    _, right, _, left = table.padding
    last = len(table.columns) - 1
    if index == 0 and not table.pad_edge:
        left = 0
    elif index > 0 and table.collapse_padding:
        left = max(0, left - right)
    if index == last and not table.pad_edge:
        right = 0
    return left + right


def show_table(console: Console, table: Table, *, one_line: bool = False) -> None:
    """Print `table` with no word split, or stacked when the console is too narrow.

    Stacked rows take one line each with `one_line` (long lists: greppable), else one
    line per cell.
    """
    widths = fit_widths(table, console.width)
    if widths is not None:
        for column, column_width in zip(table.columns, widths, strict=True):
            column.width = column_width
            column.overflow = "fold"  # only reached by a word wider than the whole line
        table.expand = False
        console.print(table)
    elif one_line:
        _one_line_rows(console, table)
    else:
        _stacked(console, table)


def _stacked(console: Console, table: Table) -> None:
    """One block per row: the first cell as its heading, then `column: value` lines."""
    if table.title:
        title = table.title if isinstance(table.title, Text) else Text(str(table.title))
        console.print(Text(title.plain, style="bold"), soft_wrap=True)
    columns = table.columns
    headers = [_plain(c.header) for c in columns]
    label = max((cell_len(h) for h in headers[1:]), default=0)
    rows = list(zip(*(c.cells for c in columns), strict=True)) if columns else []
    for row in rows:
        first = row[0] if isinstance(row[0], Text) else Text(_plain(row[0]))
        heading = Text(" " * STACK_INDENT) + first.copy()
        if headers[0]:
            heading = Text(f"{' ' * STACK_INDENT}{headers[0]}: ") + first.copy()
        heading.stylize("bold")
        console.print(heading, soft_wrap=True)
        for header, cell in zip(headers[1:], row[1:], strict=True):
            value = cell.copy() if isinstance(cell, Text) else Text(_plain(cell))
            key = f"{header}:" if header else ""
            line = Text(" " * (STACK_INDENT * 2) + key.ljust(label + 2)) + value
            console.print(line, soft_wrap=True)


def _one_line_rows(console: Console, table: Table) -> None:
    """A header line, then each row as its cells side by side, never wrapped by us."""
    if table.title:
        title = table.title if isinstance(table.title, Text) else Text(str(table.title))
        console.print(Text(title.plain, style="bold"), soft_wrap=True)
    gap = "  "
    headers = Text(gap.join(_plain(c.header) for c in table.columns), style="bold")
    console.print(headers, soft_wrap=True)
    rows = zip(*(c.cells for c in table.columns), strict=True) if table.columns else []
    for row in rows:
        line = Text()
        for index, cell in enumerate(row):
            value = cell.copy() if isinstance(cell, Text) else Text(_plain(cell))
            if index == 0:
                value.stylize("bold")
            line += (Text(gap) if index else Text()) + value
        console.print(line, soft_wrap=True)
