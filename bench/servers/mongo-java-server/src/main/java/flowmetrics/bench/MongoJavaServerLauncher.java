package flowmetrics.bench;

import java.io.File;
import java.net.InetSocketAddress;
import java.util.concurrent.CountDownLatch;

/**
 * Runs mongo-java-server on one address until SIGTERM/SIGINT.
 *
 * <pre>
 *   java -jar mongo-java-server-launcher.jar --listen 127.0.0.1:PORT --data FILE.mv [options]
 *   java -jar mongo-java-server-launcher.jar --listen 127.0.0.1:PORT --memory [options]
 *
 *   --data FILE             H2 MVStore file backend (created if missing; durable across restarts)
 *   --memory                the in-memory backend (MemoryBackend; everything is lost on exit)
 *   --commit-delay-ms N     MVStore auto-commit delay (H2's default 1000; 0 disables the
 *                           background commit, so changes reach the file only when the
 *                           unsaved-memory threshold is hit and at shutdown)
 *   --log-level LEVEL       slf4j-simple level: error, warn (default), info, debug, trace
 * </pre>
 *
 * Prints {@code ready HOST:PORT} on stdout once the socket listens (PORT 0 picks a free port).
 * On SIGTERM/SIGINT the shutdown hook stops listening, closes the client connections and
 * closes the backend, which commits the MVStore and writes its clean-shutdown mark.
 */
public final class MongoJavaServerLauncher {

    private MongoJavaServerLauncher() {}

    private static void usage(String message) {
        System.err.println("mongo-java-server-launcher: " + message);
        System.err.println("usage: java -jar mongo-java-server-launcher.jar --listen HOST:PORT"
            + " (--data FILE.mv | --memory) [--commit-delay-ms N] [--log-level LEVEL]");
        System.exit(2);
    }

    public static void main(String[] args) throws Exception {
        String listen = null;
        String dataFile = null;
        boolean memory = false;
        Integer commitDelayMs = null;
        String logLevel = "warn";
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            switch (arg) {
                case "--listen" -> listen = value(args, ++i, arg);
                case "--data" -> dataFile = value(args, ++i, arg);
                case "--memory" -> memory = true;
                case "--commit-delay-ms" -> {
                    try {
                        commitDelayMs = Integer.parseInt(value(args, ++i, arg));
                    } catch (NumberFormatException e) {
                        usage("--commit-delay-ms needs a number of milliseconds");
                    }
                }
                case "--log-level" -> logLevel = value(args, ++i, arg);
                case "-h", "--help" -> usage("help");
                default -> usage("unknown argument " + arg);
            }
        }
        if (listen == null) {
            usage("--listen HOST:PORT is required");
        }
        if ((dataFile == null) == !memory) {
            usage("give exactly one of --data FILE and --memory");
        }
        if (memory && commitDelayMs != null) {
            usage("--commit-delay-ms applies to --data only");
        }
        int colon = listen.lastIndexOf(':');
        if (colon <= 0) {
            usage("--listen wants HOST:PORT, got " + listen);
        }
        String host = listen.substring(0, colon);
        int port = 0;
        try {
            port = Integer.parseInt(listen.substring(colon + 1));
        } catch (NumberFormatException e) {
            usage("--listen wants HOST:PORT, got " + listen);
        }

        // Before the first logger is created (the server classes create theirs in static initialisers).
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", logLevel);
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        // Netty's own chatter stays at warn unless asked for more.
        System.setProperty("org.slf4j.simpleLogger.log.io.netty", logLevel.equals("trace") ? "trace" : "warn");

        start(host, port, dataFile, commitDelayMs);
    }

    // A separate method so that no server class is loaded before the logging properties are set.
    private static void start(String host, int port, String dataFile, Integer commitDelayMs) throws Exception {
        de.bwaldvogel.mongo.MongoBackend backend;
        if (dataFile != null) {
            File file = new File(dataFile).getAbsoluteFile();
            File parent = file.getParentFile();
            if (parent != null && !parent.isDirectory() && !parent.mkdirs()) {
                usage("cannot create directory " + parent);
            }
            // MVStore.open(fileName) is what new H2Backend(fileName) does: H2's defaults throughout.
            org.h2.mvstore.MVStore store = org.h2.mvstore.MVStore.open(file.getPath());
            if (commitDelayMs != null) {
                store.setAutoCommitDelay(commitDelayMs);
            }
            backend = new de.bwaldvogel.mongo.backend.h2.H2Backend(store);
        } else {
            backend = new de.bwaldvogel.mongo.backend.memory.MemoryBackend();
        }

        de.bwaldvogel.mongo.MongoServer server = new de.bwaldvogel.mongo.MongoServer(backend);
        CountDownLatch stopped = new CountDownLatch(1);
        try {
            server.bind(host, port);
        } catch (RuntimeException e) {
            backend.close();
            System.err.println("mongo-java-server-launcher: cannot listen on " + host + ":" + port + ": " + e);
            System.exit(1);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                // Stops listening, closes every client channel, waits for the event loops, then
                // backend.close(): H2Backend closes the MVStore (final commit + clean-shutdown mark + fsync).
                server.shutdown();
                System.err.println("mongo-java-server-launcher: stopped");
            } catch (Throwable t) {
                System.err.println("mongo-java-server-launcher: shutdown failed: " + t);
                t.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "shutdown"));

        InetSocketAddress bound = server.getLocalAddress();
        System.out.println("ready " + bound.getAddress().getHostAddress() + ":" + bound.getPort());
        System.out.flush();
        // Netty's event loop threads are non-daemon and keep the JVM alive; wait here anyway so
        // that main never returns before the hook has finished.
        stopped.await();
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            usage(flag + " needs a value");
        }
        return args[i];
    }
}
