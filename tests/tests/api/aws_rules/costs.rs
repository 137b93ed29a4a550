//! docs/deploy.md's monthly cost table adds up and counts the template's alarms.

use crate::routes::root_file;

/// docs/deploy.md's monthly cost table adds up: each row's arithmetic gives its dollars (to
/// the cent), the rows give the total, and it counts as many alarms and alarm metrics as
/// `template.yaml` declares.
#[test]
fn the_monthly_cost_table_adds_up() {
    let doc = root_file("docs/deploy.md");
    let section = doc
        .split("## Cost of a month")
        .nth(1)
        .expect("docs/deploy.md has a monthly cost table");
    let rows: Vec<Vec<&str>> = section
        .lines()
        .skip_while(|line| !line.starts_with("| item"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| line.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    let cents = |dollars: &str| -> i64 {
        (dollars.trim_matches('*').parse::<f64>().unwrap() * 100.0).round() as i64
    };
    let mut sum = 0;
    for row in &rows[..rows.len() - 1] {
        let (item, arithmetic, dollars) = (row[0], row[2], row[3]);
        let computed = (evaluate(&arithmetic.replace(',', "")) * 100.0).round() as i64;
        assert_eq!(computed, cents(dollars), "{item}: {arithmetic}");
        sum += cents(dollars);
    }
    let total = rows.last().unwrap();
    assert_eq!(total[0], "**total**");
    assert_eq!(sum, cents(total[3]), "the total");

    let template = root_file("template.yaml");
    let alarms = template.matches("Type: AWS::CloudWatch::Alarm").count();
    let alarm_row = rows.iter().find(|r| r[0] == "CloudWatch alarms").unwrap();
    assert!(
        alarm_row[1].starts_with(&format!("{alarms} alarms")),
        "{}",
        alarm_row[1]
    );
}

/// `a × b + (c × d) …`: products and sums of decimal numbers, as the cost table writes them.
fn evaluate(expression: &str) -> f64 {
    fn sum(tokens: &mut std::iter::Peekable<std::vec::IntoIter<String>>) -> f64 {
        let mut total = product(tokens);
        while tokens.peek().is_some_and(|t| t == "+") {
            tokens.next();
            total += product(tokens);
        }
        total
    }
    fn product(tokens: &mut std::iter::Peekable<std::vec::IntoIter<String>>) -> f64 {
        let mut value = factor(tokens);
        while tokens.peek().is_some_and(|t| t == "×") {
            tokens.next();
            value *= factor(tokens);
        }
        value
    }
    fn factor(tokens: &mut std::iter::Peekable<std::vec::IntoIter<String>>) -> f64 {
        match tokens.next().as_deref() {
            Some("(") => {
                let value = sum(tokens);
                assert_eq!(tokens.next().as_deref(), Some(")"));
                value
            }
            Some(number) => number.parse().unwrap_or_else(|_| panic!("{number:?}")),
            None => panic!("an expression ends early"),
        }
    }
    let spaced = expression.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<String> = spaced.split_whitespace().map(str::to_string).collect();
    let mut tokens = tokens.into_iter().peekable();
    let value = sum(&mut tokens);
    assert!(tokens.next().is_none(), "{expression}");
    value
}
