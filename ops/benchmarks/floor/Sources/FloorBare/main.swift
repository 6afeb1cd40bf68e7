import CLibPQ
import Glibc

// `floor-bare URL`: connect, `select 1`, print the answer; exit 5 when the database is unreachable.
let url = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : getenv("RELEASE_DATABASE_URL").map { String(cString: $0) } ?? ""
let connection = PQconnectdb(url)
guard PQstatus(connection) == CONNECTION_OK else {
    _ = ("floor-bare: cannot connect: \(String(cString: PQerrorMessage(connection)))" + "\n").withCString { write(2, $0, strlen($0)) }
    exit(5)
}
let result = PQexec(connection, "select 1")
print(String(cString: PQgetvalue(result, 0, 0)))
PQclear(result)
PQfinish(connection)
