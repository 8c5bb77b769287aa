# NixOS module: services.nixery-edge runs the origin as a hardened systemd service that builds
# through the system's Nix daemon. Every option but `enable` has a working default (the
# nixos-unstable channel, filesystem storage under /var/lib/nixery-edge, loopback on 8081).
#
#   imports = [ /path/to/nixery-edge/nix/nixos-module.nix ];
#   services.nixery-edge.enable = true;
#
# docs/deploy.md ("NixOS") has a full example with S3 storage and remote builders.
{ config, lib, pkgs, ... }:

let
  inherit (lib) mkOption mkEnableOption mkIf types optional optionalAttrs;
  cfg = config.services.nixery-edge;

  hostPlatform =
    if pkgs.stdenv.hostPlatform.isAarch64 then "linux/arm64" else "linux/amd64";

  sources = lib.filter (s: s != null) [ cfg.source.channel cfg.source.repo cfg.source.path ];

  # The origin's settings (README "Configuration"); secrets stay in files, never in the store.
  environment = {
    HOST = cfg.host;
    PORT = toString cfg.port;
    NIXERY_DATA_DIR = cfg.dataDir;
    HOME = cfg.dataDir;
    XDG_CACHE_HOME = "/var/cache/nixery-edge";
    NIX_REMOTE = "daemon";
    NIXERY_PLATFORMS = lib.concatStringsSep "," cfg.platforms;
    NIXERY_STORAGE_BACKEND = cfg.storage.backend;
    NIXERY_GC_UNUSED_SECONDS = toString cfg.gc.unusedSeconds;
    NIXERY_GC_INTERVAL_SECONDS = toString cfg.gc.intervalSeconds;
    NIXERY_GC_GRACE_SECONDS = toString cfg.gc.graceSeconds;
    ORIGIN_PRIVATE = lib.boolToString cfg.originPrivate;
  }
  // optionalAttrs (cfg.source.channel != null) { NIXERY_CHANNEL = cfg.source.channel; }
  // optionalAttrs (cfg.source.repo != null) { NIXERY_PKGS_REPO = cfg.source.repo; }
  // optionalAttrs (cfg.source.path != null) { NIXERY_PKGS_PATH = toString cfg.source.path; }
  // optionalAttrs (cfg.storage.backend == "filesystem") {
    STORAGE_PATH = if cfg.storage.path != null then cfg.storage.path else "${cfg.dataDir}/storage";
  }
  // optionalAttrs (cfg.storage.backend == "s3") {
    S3_ENDPOINT = cfg.storage.s3.endpoint;
    S3_BUCKET = cfg.storage.s3.bucket;
    S3_REGION = cfg.storage.s3.region;
    S3_FORCE_PATH_STYLE = lib.boolToString cfg.storage.s3.forcePathStyle;
  }
  // optionalAttrs (cfg.privateUsersFile != null) { NIXERY_HTPASSWD = toString cfg.privateUsersFile; }
  // cfg.settings;
in
{
  options.services.nixery-edge = {
    enable = mkEnableOption "the nixery-edge origin (container images built on demand from Nix packages)";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExample "pkgs.callPackage <nixery-edge/nix/package.nix> { }";
      description = "The nixery-edge package (its bin/nixery-edge-origin is started).";
    };

    source = {
      channel = mkOption {
        type = types.nullOr types.str;
        default = if cfg.source.repo == null && cfg.source.path == null then "nixos-unstable" else null;
        defaultText = "\"nixos-unstable\" unless repo or path is set";
        description = "A nixpkgs channel to build from (NIXERY_CHANNEL); needs network access.";
      };
      repo = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "https://github.com/NixOS/nixpkgs";
        description = "A git repository of a package set (NIXERY_PKGS_REPO); tags name revisions.";
      };
      path = mkOption {
        type = types.nullOr (types.either types.path types.str);
        default = null;
        description = "A local package set (NIXERY_PKGS_PATH), e.g. a checkout of nixpkgs.";
      };
    };

    host = mkOption {
      type = types.str;
      default = "127.0.0.1";
      description = "Address to listen on; the origin normally sits behind a tunnel or the edge.";
    };
    port = mkOption {
      type = types.port;
      default = 8081;
      description = "Port to listen on.";
    };
    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the port in the firewall (only useful with a host other than loopback).";
    };

    dataDir = mkOption {
      type = types.str;
      default = "/var/lib/nixery-edge";
      description = "SQLite database, GC roots and (filesystem storage) the blobs.";
    };

    storage = {
      backend = mkOption {
        type = types.enum [ "filesystem" "s3" ];
        default = "filesystem";
        description = "Where layers and manifests go: a directory, or an S3 bucket such as R2.";
      };
      path = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "Directory of filesystem storage (default: dataDir/storage).";
      };
      s3 = {
        endpoint = mkOption {
          type = types.str;
          default = "";
          example = "https://ACCOUNT_ID.r2.cloudflarestorage.com";
          description = "S3 endpoint URL (required with backend = \"s3\").";
        };
        bucket = mkOption {
          type = types.str;
          default = "nixery-blobs";
          description = "S3 bucket.";
        };
        region = mkOption {
          type = types.str;
          default = "auto";
          description = "S3 region (\"auto\" for R2).";
        };
        forcePathStyle = mkOption {
          type = types.bool;
          default = false;
          description = "Address the bucket in the path instead of the host name.";
        };
      };
      credentialsFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/run/keys/nixery-s3.env";
        description = ''
          An environment file with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (read by systemd
          as root; never copied to the Nix store). Required with backend = "s3".
        '';
      };
    };

    platforms = mkOption {
      type = types.listOf (types.enum [ "linux/amd64" "linux/arm64" ]);
      default = [ hostPlatform ];
      defaultText = "the host's platform";
      description = "Platforms every image is built for (an index when there are several).";
    };

    remoteBuilders = mkOption {
      type = types.listOf types.attrs;
      default = [ ];
      example = lib.literalExample ''
        [ { hostName = "arm-builder"; system = "aarch64-linux"; sshUser = "nix";
            sshKey = "/etc/nix/builder_key"; maxJobs = 8; } ]
      '';
      description = ''
        Remote Nix builders, added to nix.buildMachines (the daemon builds on them, e.g. for
        linux/arm64 on an x86_64 host); nix.distributedBuilds is turned on when there are any.
      '';
    };

    gc = {
      unusedSeconds = mkOption {
        type = types.ints.unsigned;
        default = 30 * 24 * 3600;
        description = "Images not pulled for this long lose their stored objects (made again on request).";
      };
      intervalSeconds = mkOption {
        type = types.ints.unsigned;
        default = 3600;
        description = "How often storage is collected (0: never automatically).";
      };
      graceSeconds = mkOption {
        type = types.ints.unsigned;
        default = 3600;
        description = "Objects younger than this are never collected.";
      };
    };

    originPrivate = mkOption {
      type = types.bool;
      default = false;
      description = "Serve the registry API only to the edge (ORIGIN_SECRET must be in environmentFile).";
    };

    privateUsersFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/etc/nixery-edge/users.htpasswd";
      description = "An htpasswd file (bcrypt) of the users of a private instance (NIXERY_HTPASSWD).";
    };

    environmentFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/keys/nixery-edge.env";
      description = "Secrets as an environment file: ORIGIN_SECRET, NIXERY_TOKEN_KEY, ….";
    };

    settings = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = { NIXERY_TAG_TTL_SECONDS = "600"; NIXERY_MAX_BUILDS = "4"; };
      description = "Further environment variables of the origin (README, \"Configuration\").";
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = lib.length sources == 1;
        message = "services.nixery-edge.source: set exactly one of channel, repo and path.";
      }
      {
        assertion = cfg.storage.backend != "s3" || (cfg.storage.s3.endpoint != "" && cfg.storage.credentialsFile != null);
        message = "services.nixery-edge.storage: backend \"s3\" needs s3.endpoint and credentialsFile.";
      }
      {
        assertion = !cfg.originPrivate || cfg.environmentFile != null;
        message = "services.nixery-edge.originPrivate needs ORIGIN_SECRET in environmentFile.";
      }
    ];

    nix.buildMachines = cfg.remoteBuilders;
    nix.distributedBuilds = mkIf (cfg.remoteBuilders != [ ]) true;

    networking.firewall.allowedTCPPorts = optional cfg.openFirewall cfg.port;

    systemd.services.nixery-edge = {
      description = "nixery-edge origin: container images built on demand from Nix packages";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" "nix-daemon.socket" ];
      requires = [ "nix-daemon.socket" ];
      inherit environment;
      # The system's Nix (the daemon's version) before the package's fallback.
      path = [ config.nix.package ];
      serviceConfig = {
        Type = "exec";
        ExecStart = "${cfg.package}/bin/nixery-edge-origin";
        # Started means answering HTTP (see deploy/systemd/nixery-edge-origin.service).
        ExecStartPost = "${pkgs.curl}/bin/curl --silent --fail --output /dev/null --max-time 2 --retry 330 --retry-delay 1 --retry-connrefused http://${if cfg.host == "0.0.0.0" || cfg.host == "::" then "127.0.0.1" else cfg.host}:${toString cfg.port}/livez";
        TimeoutStartSec = 360;
        TimeoutStopSec = 30;
        KillMode = "mixed";
        Restart = "on-failure";
        RestartSec = 5;
        RestartPreventExitStatus = 2;
        EnvironmentFile = lib.filter (f: f != null) [ cfg.storage.credentialsFile cfg.environmentFile ];
        DynamicUser = true;
        User = "nixery-edge";
        Group = "nixery-edge";
        StateDirectory = "nixery-edge";
        CacheDirectory = "nixery-edge";
        WorkingDirectory = cfg.dataDir;
        ReadWritePaths = optional (cfg.dataDir != "/var/lib/nixery-edge") cfg.dataDir
          ++ optional (cfg.storage.backend == "filesystem" && cfg.storage.path != null) cfg.storage.path;
        UMask = "0027";
        NoNewPrivileges = true;
        CapabilityBoundingSet = "";
        AmbientCapabilities = "";
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        PrivateDevices = true;
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectClock = true;
        ProtectHostname = true;
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        RemoveIPC = true;
        RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" ];
        SystemCallArchitectures = "native";
        SystemCallFilter = [ "@system-service" ];
        SystemCallErrorNumber = "EPERM";
      };
    };
  };
}
